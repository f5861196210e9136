"""The verifier: keeps the candidates that a model judges correct.

For each candidate, concurrently with the others, two calls run one after the other:
a reasoning call (`formats.VERIFIER_REASONING_MARKER`) that checks the candidate step by
step, then a verdict call (`formats.VERIFIER_VERDICT_MARKER`) that reads the reasoning and
must answer ``[Correct]`` or ``[Incorrect]``. The prompt's own ``[Correct] or [Incorrect]``
copied back is no verdict. The final explicit verdict in the reply
counts (a model often names both options before it concludes): a tag (``[Correct]``,
``[Not correct]``), a verdict phrase (``Verdict: Incorrect``, ``My final verdict is not
correct``), or a last line that is only the verdict word (``**Correct**``). A negation
just before a tag turns it round (``not [Correct]`` is a no); a negation elsewhere in the
sentence does not. Plain prose (``it is incorrect``) is no verdict. A reply with none is
asked again, up to
`PARSE_RETRIES` more times (noted as ``verifier_verdict_retry``), then the candidate
counts as not verified (noted as ``verifier_verdict_unparsable``).

A candidate whose calls fail (a provider error) counts as not verified and is noted as
``verifier_candidate_failed``; if every candidate fails that way the first error is raised.

Settings:
    first_k: keep only the first k verified candidates, in candidate order, as Archon's
        sequential scan with early stop does. Candidates are checked in candidate order
        through a window of concurrent checks that stops as soon as those k are known
        (`components._first_k`; ``first_k_window`` bounds it), so the calls are about
        Archon's, not two per candidate. Without first_k every candidate is checked at once.
    batch_num: present in some of Archon's verifier configs but read by no Archon code;
        accepted for compatibility, no effect.
    samples: ignored; each step is one call (Archon keeps only the first sample too).

If no candidate is verified, the candidates judged ``[Incorrect]`` pass on to the next
layer, as in Archon (which drops those whose check failed or gave no verdict; when that
leaves none, every candidate passes on here), and ``verifier_none_verified`` is noted.
Writes ``candidates`` and, when the previous layer left one critique per candidate,
``critiques`` aligned with the kept candidates.
"""

from __future__ import annotations

import re

from archon_async.core import (
    ArchonError,
    ComponentContext,
    ComponentSpec,
    Message,
    State,
    StateUpdate,
)

from ._common import (
    aligned_critiques,
    ask_parsed,
    complete_text,
    effective_conversation,
    prompt_messages,
    query_of,
    record,
    require_candidates,
    truncation_hint,
)
from ._first_k import DEFAULT_FIRST_K_WINDOW, record_scan, scan_first_k
from .prompts import VERIFIER_SYSTEM, verifier_reasoning_prompt, verifier_verdict_prompt

__all__ = ["Verifier", "parse_verdict"]

# The three ways a verdict is written; each has an optional inner "not" and the word.
_TAG = re.compile(r"\[\s*(not\s+)?(correct|incorrect)\s*\]", re.I)
_PHRASE = re.compile(
    r"\bverdict(?:\s+is|\s+would\s+be)?[^\w\n]{0,10}"
    r"(?:(?:the|this)\s+(?:response|answer|candidate)\s+is\s+)?(not\s+)?(correct|incorrect)\b",
    re.I,
)
_LAST_LINE = re.compile(r"^[\s*_#>]*(not\s+)?(correct|incorrect)[\s*_.!]*$", re.I)
_NEGATION_REACH = 24
# A negation right before a tag: "not [Correct]", "isn't [Incorrect]", "not **[Correct]**".
# The prompt's own options, copied back: not a verdict.
_OPTIONS = re.compile(r"\[\s*correct\s*\]\s*or\s*\[\s*incorrect\s*\]", re.I)
_NEGATED = re.compile(r"(?:\bnot|cannot|n't|\bnever)(?:\s+be)?\s*[\"'*_`]*\s*$", re.I)


def _value(match: re.Match[str], negated: bool = False) -> bool:
    correct = match.group(2).lower() == "correct"
    return correct != (negated != bool(match.group(1)))


def parse_verdict(reply: str) -> bool | None:
    """True for a ``[Correct]`` verdict, False for ``[Incorrect]``, None when there is none.

    The final explicit verdict wins: the last tag, ``Verdict: ...`` phrase or verdict-only
    last line, whichever comes last; a negation right before a tag turns it round.
    """
    reply = _OPTIONS.sub(lambda option: " " * len(option.group(0)), reply)
    verdicts: list[tuple[int, bool]] = []
    for match in _TAG.finditer(reply):
        # Only the few characters before the tag can negate it; searching the whole line
        # before every tag would be quadratic in a long line of tags.
        line_start = reply.rfind("\n", 0, match.start()) + 1
        window = max(line_start, match.start() - _NEGATION_REACH)
        negated = _NEGATED.search(reply, window, match.start()) is not None
        verdicts.append((match.start(), _value(match, negated)))
    verdicts += [(match.start(), _value(match)) for match in _PHRASE.finditer(reply)]
    stripped = reply.rstrip()
    last_start = stripped.rfind("\n") + 1
    last = _LAST_LINE.match(stripped[last_start:])
    if last:
        verdicts.append((last_start, _value(last)))
    return max(verdicts, key=lambda verdict: verdict[0])[1] if verdicts else None


class Verifier:
    """Writes ``candidates`` (the verified ones, or all when none is) and aligned critiques.

    Args:
        spec: the component's configuration.
    """

    def __init__(self, spec: ComponentSpec) -> None:
        self.spec = spec

    async def run(self, ctx: ComponentContext, state: State) -> StateUpdate:
        """Verify every candidate concurrently and keep the verified ones.

        Raises:
            ComponentError: there are no candidates.
            ArchonError: the calls failed for every candidate (the first error).
        """
        candidates = require_candidates(state, "verifier")
        critiques = aligned_critiques(ctx, state, len(candidates))
        conversation = effective_conversation(ctx.conversation, state)

        async def check(index: int) -> bool | ArchonError | None:
            try:
                return await self._verify(ctx, conversation, index, candidates[index])
            except ArchonError as exc:
                return exc

        if self.spec.first_k is None:
            outcomes = dict(enumerate(await ctx.map(check, list(range(len(candidates))))))
        else:
            window = self.spec.first_k_window or DEFAULT_FIRST_K_WINDOW
            scan = await scan_first_k(
                len(candidates),
                check,
                lambda outcome: outcome is True,
                self.spec.first_k,
                max_window=window,
            )
            record_scan(ctx, scan, window=window)
            outcomes = scan.results
        errors = [o for o in outcomes.values() if isinstance(o, ArchonError)]
        if len(errors) == len(outcomes):
            raise errors[0]
        for index, outcome in sorted(outcomes.items()):
            if isinstance(outcome, ArchonError):
                record(
                    ctx,
                    "verifier_candidate_failed",
                    candidate=index,
                    error=f"{type(outcome).__name__}: {outcome}",
                )
        kept = sorted(i for i, outcome in outcomes.items() if outcome is True)
        if self.spec.first_k is not None:
            kept = kept[: self.spec.first_k]
        if not kept:
            kept = sorted(i for i, outcome in outcomes.items() if outcome is False)
            kept = kept or list(range(len(candidates)))
            record(ctx, "verifier_none_verified", candidates=len(candidates), kept=len(kept))
        update: StateUpdate = {"candidates": [candidates[i] for i in kept]}
        if critiques is not None:
            update["critiques"] = [critiques[i] for i in kept]
        return update

    async def _verify(
        self, ctx: ComponentContext, conversation: list[Message], index: int, candidate: str
    ) -> bool | None:
        """True verified, False judged incorrect, None no verdict after the retries."""
        query = query_of(conversation)
        reasoning = await complete_text(
            ctx,
            self.spec,
            prompt_messages(
                VERIFIER_SYSTEM, conversation, verifier_reasoning_prompt(query, candidate)
            ),
        )
        messages = prompt_messages(
            VERIFIER_SYSTEM, conversation, verifier_verdict_prompt(query, candidate, reasoning)
        )
        parsed = await ask_parsed(
            ctx,
            self.spec,
            messages,
            parse_verdict,
            retry_event="verifier_verdict_retry",
            candidate=index,
        )
        if parsed.value is None:
            hint = {"hint": truncation_hint(self.spec)} if parsed.truncated else {}
            record(ctx, "verifier_verdict_unparsable", candidate=index, **hint, raw=parsed.raw)
            return None
        return parsed.value
