"""The unit test evaluator: scores each candidate by the unit tests it passes.

For each candidate one call asks for a verdict per unit test in the format of
`formats.render_unit_test_verdicts` (``Unit Test #1: [Passed]``). The score is the number
of tests passed. Parsing is tolerant, like Archon's: for test k the last ``Unit Test #k``
in the reply counts (the verdict list comes after the reasoning), and ``[Passed]``/
``[Failed]`` or the words pass/passed/fail/failed decide; a test with no verdict counts as
failed (noted as ``unit_test_verdicts_incomplete``). A reply with no verdict at all is asked
again up to `PARSE_RETRIES` more times (``unit_test_eval_retry``), except a reply cut at
``max_tokens``; then the candidate scores 0 (``unit_test_eval_unparsable``). A candidate
whose call fails scores 0 (``unit_test_eval_failed``); if every candidate judged fails
that way the first error is raised.

Selection (Archon's, ``components/Unit_Test_Evaluator.py``):
    first_k: the first k candidates, in candidate order, that pass every test. Candidates
        are judged in candidate order through a window of concurrent calls that stops as
        soon as those k are known (`components._first_k`; ``first_k_window`` bounds it),
        so the calls are about Archon's, not one per candidate. When fewer than k pass
        every test (every candidate was judged), the ranking below is used instead (noted
        as ``unit_test_first_k_fallback``), as Archon does.
    first_pass: Archon's older spelling of ``first_k = 1``.
    top_k: otherwise every candidate is judged concurrently, ordered by score, best first,
        and the first top_k kept (all when unset). Ties are ordered as Archon's
        ``sorted(zip(scores, candidates), reverse=True)`` orders them: by the candidate's
        text, in reverse.

Without unit tests (the generator's replies held none, see
`components.unit_test_generator`) no call is made: with nothing to fail, every candidate
passes all of its zero tests, so the selection keeps the first ``first_k`` (or ``top_k``)
candidates in candidate order, and ``unit_test_evaluator_without_tests`` is noted.

Other settings: ``remove_unit_tests_from_prompt`` cuts Archon's ``Your response should pass
the following unit tests:`` tail off the query shown to the judge (the tests are listed
separately anyway). ``unit_test_cap`` and ``samples`` are read by no Archon evaluator code
and have no effect here either. Writes ``candidates`` only.
"""

from __future__ import annotations

import re

from archon_async.core import (
    ArchonError,
    ComponentContext,
    ComponentSpec,
    ConfigError,
    Message,
    State,
    StateUpdate,
)

from ._common import (
    ask_parsed,
    candidate_number,
    effective_conversation,
    prompt_messages,
    query_of,
    record,
    require_candidates,
    strip_unit_tests,
    truncation_hint,
)
from ._first_k import DEFAULT_FIRST_K_WINDOW, record_scan, scan_first_k
from .prompts import UNIT_TEST_EVALUATOR_SYSTEM, unit_test_evaluator_prompt

__all__ = ["UnitTestEvaluator", "parse_unit_test_verdicts"]

_HEADER = re.compile(r"unit[ \t]*test[ \t]*#?[ \t]*(\d+)\b", re.I)
_PASSED_TAG = re.compile(r"\[\s*pass(?:ed)?\s*\]", re.I)
_FAILED_TAG = re.compile(r"\[\s*fail(?:ed)?\s*\]", re.I)
_PASSED_WORD = re.compile(r"\bpass(?:ed|es)?\b", re.I)
_FAILED_WORD = re.compile(r"\bfail(?:ed|s|ure)?\b", re.I)


def _judge(segment: str) -> bool | None:
    for passed, failed in ((_PASSED_TAG, _FAILED_TAG), (_PASSED_WORD, _FAILED_WORD)):
        has_pass, has_fail = bool(passed.search(segment)), bool(failed.search(segment))
        if has_pass != has_fail:
            return has_pass
        if has_pass:
            return None  # both: ambiguous, as Archon treats it
    return None


def parse_unit_test_verdicts(reply: str, count: int) -> list[bool | None]:
    """One verdict per unit test: True passed, False failed, None when it is not given."""
    headers = list(_HEADER.finditer(reply))
    verdicts: list[bool | None] = []
    for number in range(1, count + 1):
        positions = [i for i, h in enumerate(headers) if candidate_number(h.group(1)) == number]
        if not positions:
            verdicts.append(None)
            continue
        position = positions[-1]
        start = headers[position].end()
        end = headers[position + 1].start() if position + 1 < len(headers) else len(reply)
        segment = reply[start:end]
        # The verdict is normally on the header's line; look further only if it is not.
        on_line = _judge(segment.split("\n", 1)[0])
        verdicts.append(on_line if on_line is not None else _judge(segment))
    return verdicts


class UnitTestEvaluator:
    """Writes ``candidates``: selected by unit-test results (see the module docstring).

    Args:
        spec: the component's configuration.

    Raises:
        ConfigError: ``first_pass`` is true while ``first_k`` asks for more than one.
    """

    def __init__(self, spec: ComponentSpec) -> None:
        self.spec = spec
        first_k = spec.first_k
        if spec.first_pass and first_k is not None and first_k != 1:
            raise ConfigError(
                f"first_pass: true means first_k = 1, but first_k is {first_k}: "
                "keep only one of the two settings"
            )
        if first_k is None and spec.first_pass:
            first_k = 1
        self.first_k = first_k

    async def run(self, ctx: ComponentContext, state: State) -> StateUpdate:
        """Score the candidates and select (see the module docstring).

        Raises:
            ComponentError: there are no candidates.
            ArchonError: the call failed for every candidate judged (the first error).
        """
        candidates = require_candidates(state, "unit_test_evaluator")
        tests = [str(test) for test in state.get("unit_tests") or []]
        keep = self.first_k if self.first_k is not None else self.spec.top_k
        if not tests:
            record(ctx, "unit_test_evaluator_without_tests", candidates=len(candidates))
            return {"candidates": candidates[:keep]}
        conversation = effective_conversation(ctx.conversation, state)
        query = query_of(conversation).strip()
        if self.spec.remove_unit_tests_from_prompt:
            query = strip_unit_tests(query)

        async def score(index: int) -> int | ArchonError:
            try:
                return await self._score(ctx, conversation, query, index, candidates[index], tests)
            except ArchonError as exc:
                return exc

        if self.first_k is None:
            outcomes = await ctx.map(score, list(range(len(candidates))))
        else:
            window = self.spec.first_k_window or DEFAULT_FIRST_K_WINDOW
            scan = await scan_first_k(
                len(candidates),
                score,
                lambda outcome: outcome == len(tests),
                self.first_k,
                max_window=window,
            )
            if scan.selected is not None:
                _note_failures(ctx, scan.results)
                record_scan(ctx, scan, window=window)
                return {"candidates": [candidates[i] for i in scan.selected]}
            outcomes = [scan.results[i] for i in range(len(candidates))]
        scores = self._scores(ctx, outcomes)
        kept = self._select(ctx, scores, candidates, len(tests))
        return {"candidates": [candidates[i] for i in kept]}

    @staticmethod
    def _scores(ctx: ComponentContext, outcomes: list[int | ArchonError]) -> list[int]:
        errors = [o for o in outcomes if isinstance(o, ArchonError)]
        if len(errors) == len(outcomes):
            raise errors[0]
        _note_failures(ctx, dict(enumerate(outcomes)))
        return [0 if isinstance(o, ArchonError) else o for o in outcomes]

    def _select(
        self, ctx: ComponentContext, scores: list[int], candidates: list[str], test_count: int
    ) -> list[int]:
        if self.first_k is not None:
            passing = [i for i, s in enumerate(scores) if s == test_count]
            record(ctx, "unit_test_first_k_fallback", passing=len(passing), first_k=self.first_k)
        # Archon's order: sorted(zip(scores, candidates), reverse=True).
        ranked = sorted(range(len(scores)), key=lambda i: (scores[i], candidates[i]), reverse=True)
        return ranked[: self.spec.top_k] if self.spec.top_k is not None else ranked

    async def _score(
        self,
        ctx: ComponentContext,
        conversation: list[Message],
        query: str,
        index: int,
        candidate: str,
        tests: list[str],
    ) -> int:
        prompt = unit_test_evaluator_prompt(query, candidate.strip(), tests)
        messages = prompt_messages(UNIT_TEST_EVALUATOR_SYSTEM, conversation, prompt)

        def parse(reply: str) -> list[bool | None] | None:
            verdicts = parse_unit_test_verdicts(reply, len(tests))
            return verdicts if any(v is not None for v in verdicts) else None

        parsed = await ask_parsed(
            ctx, self.spec, messages, parse, retry_event="unit_test_eval_retry", candidate=index
        )
        if parsed.value is None:
            hint = {"hint": truncation_hint(self.spec)} if parsed.truncated else {}
            record(ctx, "unit_test_eval_unparsable", candidate=index, **hint, raw=parsed.raw)
            return 0
        verdicts = parsed.value
        if None in verdicts:
            record(
                ctx,
                "unit_test_verdicts_incomplete",
                candidate=index,
                missing=[n for n, v in enumerate(verdicts, 1) if v is None],
            )
        return sum(1 for v in verdicts if v)


def _note_failures(ctx: ComponentContext, outcomes: dict[int, int | ArchonError]) -> None:
    """Note each candidate whose judgement failed (it scores 0)."""
    for index, outcome in sorted(outcomes.items()):
        if isinstance(outcome, ArchonError):
            record(
                ctx,
                "unit_test_eval_failed",
                candidate=index,
                error=f"{type(outcome).__name__}: {outcome}",
            )
