"""Tokens of one call of each kind, for ``--estimate``: prompts built, replies calibrated.

A call's input is its prompt, built with the built-in components' own prompt functions
from each dev question and placeholder candidates (and critiques) of the reply lengths
below, then counted as the provider counts: the simulated provider's count (about 1.3
tokens a word) when simulating, else about four characters a token. Its output is the
reply length of its kind:

* simulated: measured by a pilot, a few questions of small architectures with every
  component on a private simulated provider with the search's settings (free, nothing
  is cached or counted), which also measures parse retries per call;
* real: ``answer_tokens`` of the search file for answers (generators, fusers, verifier
  reasoning, unit tests, the judge), half of it per candidate for critiques and for a
  unit-test check, 50 for a ranking, 20 for a verdict (the per-query model of `Space`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..components import prompts
from ._sharing import Call

__all__ = [
    "TokenModel",
    "chars_tokens",
    "measured_replies",
    "pilot_configs",
    "settings_replies",
]

#: Reply kinds: the `Call` kinds, plus ``judge`` (one judgement).
KINDS = (
    "generator",
    "fuser",
    "critic",
    "ranker",
    "verifier_reasoning",
    "verifier_verdict",
    "unit_test_generator",
    "unit_test_evaluator",
    "judge",
)


def chars_tokens(text: str) -> int:
    """About four characters a token (OpenAI's rule of thumb for English), at least 1."""
    return max(1, len(text) // 4)


def settings_replies(answer_tokens: float) -> dict[str, float]:
    """Reply lengths from the search file's ``answer_tokens`` (see the module)."""
    a = float(answer_tokens)
    return {
        "generator": a,
        "fuser": a,
        "critic": a / 2,  # per candidate
        "ranker": 50.0,
        "verifier_reasoning": a,
        "verifier_verdict": 20.0,
        "unit_test_generator": a,
        "unit_test_evaluator": a / 2,
        "judge": a,
    }


def sent_replies(journal: Path) -> tuple[float, int] | None:
    """The mean completion tokens of the calls a search already sent (its run directory's
    spend journal: the model ranking's answers, evaluations), and how many calls were
    answered; None when it has answered none."""
    from ..callpath import SpendJournal

    totals = SpendJournal.totals(journal)
    answered = 0 if totals is None else totals.calls - totals.unfinished
    if totals is None or answered <= 0 or totals.output_tokens <= 0:
        return None
    return totals.output_tokens / answered, answered


@dataclass
class TokenModel:
    """Input and output tokens of a call, averaged over the dev questions.

    Attributes:
        count: the provider's token count of a text.
        replies: reply tokens by kind (a critic's per candidate it critiques).
        questions: the dev questions' texts (the query each component repeats).
        retries: calls per call of each kind (parse retries; 1.0 = none).
        source: how the reply lengths were found (said in the estimate).
        longest: the longest reply measured of each kind (the pilot's), for the high end
            of the estimate; empty when the lengths are not measured.
        judge: the text a judge call sends (every message of it) for a question's text
            and one answer, built as the benchmark's judge builds it; None: the question
            and the answers it reads.
    """

    count: Callable[[str], int]
    replies: Mapping[str, float]
    questions: Sequence[str]
    retries: Mapping[str, float] = field(default_factory=dict)
    source: str = ""
    longest: Mapping[str, float] = field(default_factory=dict)
    judge: Callable[[str, str], str] | None = None
    _memo: dict[tuple[str, int, bool], float] = field(default_factory=dict)

    def upper(self) -> TokenModel:
        """The same model with every reply as long as the longest measured of its kind
        (prompts that carry replies grow with them): what a run's tokens stay under
        when its replies run long, as the pilot saw them do."""
        replies = {kind: max(v, self.longest.get(kind, v)) for kind, v in self.replies.items()}
        return dataclasses.replace(self, replies=replies, longest={}, _memo={})

    def on(self, questions: Sequence[str]) -> TokenModel:
        """The same model on other questions (a search asks its final-ranking, report and
        model-ranking questions apart from the dev ones: a prompt's length is theirs)."""
        return dataclasses.replace(self, questions=questions, _memo={})

    def output(self, call: Call) -> float:
        """Reply tokens of ``call``."""
        per = self.replies.get(call.kind, self.replies["generator"])
        return per * max(1, call.reads) if call.kind == "critic" else per

    def input(self, call: Call) -> float:
        """Prompt tokens of ``call``, the mean over the dev questions."""
        key = (call.kind, call.reads, call.critiques)
        held = self._memo.get(key)
        if held is None:
            texts = [self._prompt(call, q) for q in self.questions] or [""]
            held = self._memo[key] = sum(map(self.count, texts)) / len(texts)
        return held

    def _filler(self, tokens: float) -> str:
        per_word = self.count(" ".join(["word"] * 100)) / 100
        return " ".join(["word"] * max(1, round(tokens / per_word)))

    def _prompt(self, call: Call, query: str) -> str:
        """The texts the call sends (system message and prompt), with placeholders."""
        answer = self._filler(self.replies["fuser"] if call.reads else 0)
        candidates = [answer] * max(1, call.reads)
        critiques = [self._filler(self.replies["critic"])] * len(candidates)
        kind = call.kind
        if kind == "generator":
            return query
        if kind == "fuser":
            text = prompts.fuser_prompt(query, candidates, critiques if call.critiques else None)
            return prompts.FUSER_SYSTEM + "\n" + text
        if kind == "critic":
            return prompts.CRITIC_SYSTEM + "\n" + prompts.critic_prompt(query, candidates)
        if kind == "ranker":
            given = critiques if call.critiques else None
            return prompts.RANKER_SYSTEM + "\n" + prompts.ranker_prompt(query, candidates, given)
        if kind == "verifier_reasoning":
            return prompts.VERIFIER_SYSTEM + "\n" + prompts.verifier_reasoning_prompt(query, answer)
        if kind == "verifier_verdict":
            reasoning = self._filler(self.replies["verifier_reasoning"])
            text = prompts.verifier_verdict_prompt(query, answer, reasoning)
            return prompts.VERIFIER_SYSTEM + "\n" + text
        if kind == "unit_test_generator":
            text = prompts.unit_test_generator_prompt(query, None)
            return prompts.UNIT_TEST_GENERATOR_SYSTEM + "\n" + text
        if kind == "unit_test_evaluator":
            tests = [self._filler(self.replies["unit_test_generator"])]
            text = prompts.unit_test_evaluator_prompt(query, answer, tests)
            return prompts.UNIT_TEST_EVALUATOR_SYSTEM + "\n" + text
        judged = self._filler(self.replies["generator"])  # a judge: the answers it reads
        if self.judge is not None:
            return self.judge(query, judged)
        return query + "\n" + (judged + "\n") * call.reads


#: The pilot's architectures: every built-in component a space can hold, with the calls
#: each of their components makes per question when no reply needs asking again.
_PILOT_CRITIC_READS = 4


def pilot_configs(models: Sequence[tuple[str, str]]) -> list[tuple[dict[str, Any], dict[str, int]]]:
    """Two small architectures over the first two ``(model, model_type)`` pairs, each with
    the calls its components make per question (by component type)."""
    pair = [models[0], models[-1] if len(models) > 1 else models[0]]

    def part(kind: str, at: int = 0, **extra: Any) -> dict[str, Any]:
        model, model_type = pair[at]
        return {"type": kind, "model": model, "model_type": model_type, **extra}

    critiqued = {
        "name": "estimate-pilot-critic-ranker-verifier",
        "layers": [
            [part("generator", 0, samples=2), part("generator", 1, samples=2)],
            [part("critic")],
            [part("ranker", top_k=3, use_critiques=True)],
            [part("fuser", 0), part("fuser", 1)],
            [part("verifier")],
            [part("fuser")],
        ],
    }
    tested = {
        "name": "estimate-pilot-unit-tests",
        "layers": [
            [part("generator", 0), part("generator", 1)],
            [part("unit_test_generator")],
            [part("unit_test_evaluator", top_k=1)],
            [part("fuser")],
        ],
    }
    expected_critiqued = {"generator": 4, "critic": 1, "ranker": 1, "fuser": 3, "verifier": 4}
    expected_tested = {
        "generator": 2,
        "unit_test_generator": 1,
        "unit_test_evaluator": 2,
        "fuser": 1,
    }
    return [(critiqued, expected_critiqued), (tested, expected_tested)]


def measured_replies(
    runs: Sequence[tuple[Any, Mapping[str, int]]],
    *,
    longest: bool = False,
) -> tuple[dict[str, float], dict[str, float]]:
    """Reply tokens (the mean, or with ``longest`` the longest), and calls per expected
    call, by kind, from pilot traces (each with the calls its architecture makes per
    question when nothing is asked again).

    A verifier makes one reasoning and one verdict call per candidate: their mean reply is
    kept for both (their sum is what counts). A critic's reply is per candidate it read.
    """
    out: dict[str, list[float]] = {}
    made: dict[str, int] = {}
    expected: dict[str, int] = {}
    for trace, per_question in runs:
        for kind, count in per_question.items():
            expected[kind] = expected.get(kind, 0) + count
        for layer in trace.layers:
            for component in layer.components:
                kind = component.type
                made[kind] = made.get(kind, 0) + len(component.calls)
                for record in component.calls:
                    if record.error is None:
                        tokens = float(record.output_tokens)
                        if kind == "critic":
                            tokens /= _PILOT_CRITIC_READS
                        out.setdefault(kind, []).append(tokens)
    replies = {kind: max(v) if longest else sum(v) / len(v) for kind, v in out.items() if v}
    if "verifier" in replies:
        replies["verifier_reasoning"] = replies["verifier_verdict"] = replies.pop("verifier")
    retries = {kind: made.get(kind, 0) / n for kind, n in expected.items() if n}
    if "verifier" in retries:
        retries["verifier_reasoning"] = retries["verifier_verdict"] = retries.pop("verifier")
    return replies, retries
