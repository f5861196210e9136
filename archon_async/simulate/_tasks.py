"""Which component task a prompt asks for, recognised only by the shared marker phrases.

The component prompts are worded elsewhere (``components.prompts``) and may change; this
module relies only on the marker constants of ``components.formats`` and on candidates
being labelled ``[1]``, ``[2]``, ... at the start of a line, so that it keeps working when
the wording around them changes. Keep every prompt-shape assumption here.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from archon_async.components.formats import (
    CRITIC_MARKER,
    FUSER_MARKER,
    RANKER_MARKER,
    UNIT_TEST_EVALUATOR_MARKER,
    UNIT_TEST_GENERATOR_MARKER,
    VERIFIER_REASONING_MARKER,
    VERIFIER_VERDICT_MARKER,
    render_unit_test_verdicts,
)

__all__ = ["Prompt", "Task", "detect_task", "pairwise_answers", "unit_tests_shown"]


class Task(enum.StrEnum):
    """The kinds of reply the simulated provider can write."""

    GENERATE = "generate"
    FUSE = "fuse"
    RANK = "rank"
    CRITIQUE = "critique"
    VERIFY_REASONING = "verify_reasoning"
    VERIFY_VERDICT = "verify_verdict"
    UNIT_TESTS = "unit_tests"
    UNIT_TEST_VERDICTS = "unit_test_verdicts"
    JUDGE_RATING = "judge_rating"
    JUDGE_PAIRWISE = "judge_pairwise"


_MARKERS = {
    FUSER_MARKER: Task.FUSE,
    RANKER_MARKER: Task.RANK,
    CRITIC_MARKER: Task.CRITIQUE,
    VERIFIER_REASONING_MARKER: Task.VERIFY_REASONING,
    VERIFIER_VERDICT_MARKER: Task.VERIFY_VERDICT,
    UNIT_TEST_GENERATOR_MARKER: Task.UNIT_TESTS,
    UNIT_TEST_EVALUATOR_MARKER: Task.UNIT_TEST_VERDICTS,
    # The verdict formats that LLM-judge prompts ask for (MT-Bench's single grading, and the
    # pairwise grading of archon_async.benchmarks.judge).
    '"[[rating]]"': Task.JUDGE_RATING,
    "[[A>>B]]": Task.JUDGE_PAIRWISE,
}
_DEFAULT_TEST_COUNT = 5
_MAX_TEST_COUNT = 50
_HOW_MANY_TESTS = re.compile(r"\b(\d{1,3})\s+unit\s+tests?\b", re.I)
_TEST_LINE = re.compile(r"^[ \t]*Unit Test #(\d+):[ \t]*(.*)$", re.M)
# The evaluator prompt shows an example of the verdict lines; those are not tests to judge.
# Pairwise judge prompts frame each answer (archon_async.benchmarks.judge, after FastChat's).
_PAIRWISE_ANSWER = re.compile(
    r"Start of Assistant ([AB])'s Answer\|>(.*?)<\|The End of Assistant \1's Answer", re.S
)
_VERDICT_TAGS = frozenset(
    render_unit_test_verdicts([ok]).split(":", 1)[1].strip() for ok in (True, False)
)


@dataclass(frozen=True, slots=True)
class Prompt:
    """A recognised prompt.

    Attributes:
        task: what the prompt asks for.
        text: the text the task was recognised in.
        candidates: the text after each ``[n]`` label, in order (ranker, critic, fuser).
        count: unit tests to write (generator) or to judge (evaluator); else 0.
    """

    task: Task
    text: str
    candidates: tuple[str, ...] = ()
    count: int = 0


def detect_task(text: str) -> Prompt:
    """Recognise the task of ``text``: the marker that appears first wins."""
    found = [(text.find(marker), task) for marker, task in _MARKERS.items()]
    found = [(position, task) for position, task in found if position >= 0]
    if not found:
        return Prompt(Task.GENERATE, text)
    task = min(found)[1]
    if task in (Task.FUSE, Task.RANK, Task.CRITIQUE):
        return Prompt(task, text, candidates=_labelled_candidates(text))
    if task is Task.UNIT_TESTS:
        return Prompt(task, text, count=_tests_requested(text))
    if task is Task.UNIT_TEST_VERDICTS:
        return Prompt(task, text, count=_tests_shown(text))
    return Prompt(task, text)


def _labelled_candidates(text: str) -> tuple[str, ...]:
    """Split out ``[1] ...``, ``[2] ...``: each label found at a line start after the last."""
    starts: list[tuple[int, int]] = []
    position = 0
    while True:
        label = re.compile(rf"^[ \t]*\[{len(starts) + 1}\]", re.M).search(text, position)
        if label is None:
            break
        starts.append((label.start(), label.end()))
        position = label.end()
    ends = [start for start, _ in starts[1:]] + [len(text)]
    return tuple(text[body:end].strip() for (_, body), end in zip(starts, ends, strict=True))


def _tests_requested(text: str) -> int:
    match = _HOW_MANY_TESTS.search(text)
    if match is None:
        return _DEFAULT_TEST_COUNT
    return max(1, min(int(match.group(1)), _MAX_TEST_COUNT))


def _tests_shown(text: str) -> int:
    numbers = [
        int(match.group(1))
        for match in _TEST_LINE.finditer(text)
        if match.group(2).strip() not in _VERDICT_TAGS
    ]
    return max(numbers, default=1)


def unit_tests_shown(text: str) -> tuple[str, ...]:
    """The unit tests a unit-test evaluator prompt lists (``Unit Test #k: ...`` lines, not
    the example verdict lines)."""
    return tuple(
        match.group(0).strip()
        for match in _TEST_LINE.finditer(text)
        if match.group(2).strip() not in _VERDICT_TAGS
    )


def pairwise_answers(text: str) -> tuple[str, str] | None:
    """Assistant A's and B's answers in a pairwise judge prompt, or None if not both."""
    found = {match.group(1): match.group(2) for match in _PAIRWISE_ANSWER.finditer(text)}
    if "A" not in found or "B" not in found:
        return None
    return found["A"], found["B"]
