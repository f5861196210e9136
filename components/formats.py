"""The reply formats our component prompts ask for, and the phrases that mark each prompt.

Prompts (in each component's module) embed the marker of their task, and ask the model to
answer in the format rendered by the functions below. The simulated provider uses the same
markers to recognise a task and the same renderers to answer it, so every component path
runs without a real model. Parsers (in the components) accept these formats and the looser
ways real models write them.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CRITIC_MARKER",
    "FUSER_MARKER",
    "RANKER_MARKER",
    "UNIT_TEST_EVALUATOR_MARKER",
    "UNIT_TEST_GENERATOR_MARKER",
    "VERIFIER_REASONING_MARKER",
    "VERIFIER_VERDICT_MARKER",
    "render_critiques",
    "render_ranking",
    "render_unit_test_verdicts",
    "render_unit_tests",
    "render_verdict",
]

FUSER_MARKER = "Combine the candidate responses below into one answer"
RANKER_MARKER = "Order the candidate responses below from best to worst"
CRITIC_MARKER = "Assess each candidate response below"
VERIFIER_REASONING_MARKER = "Check the candidate response below step by step"
VERIFIER_VERDICT_MARKER = "State your final verdict on the candidate response"
UNIT_TEST_GENERATOR_MARKER = "Write unit tests that a correct answer to the query must pass"
UNIT_TEST_EVALUATOR_MARKER = "Judge the candidate response against each unit test below"


def render_ranking(order: Sequence[int]) -> str:
    """A ranking line, 1-based candidate numbers best first: ``[3] > [1] > [2]``."""
    return " > ".join(f"[{number}]" for number in order)


def render_critiques(critiques: Sequence[tuple[str, str]]) -> str:
    """One block per candidate, in candidate order, from (strengths, weaknesses) pairs."""
    blocks = []
    for number, (strengths, weaknesses) in enumerate(critiques, start=1):
        blocks.append(f"[{number}]\nStrengths:\n- {strengths}\nWeaknesses:\n- {weaknesses}")
    return "\n\n".join(blocks)


def render_verdict(correct: bool) -> str:
    """The verdict tag a verifier reply must end with."""
    return "[Correct]" if correct else "[Incorrect]"


def render_unit_tests(tests: Sequence[str]) -> str:
    """Numbered unit tests, one per line: ``Unit Test #1: <test>``."""
    return "\n".join(f"Unit Test #{number}: {test}" for number, test in enumerate(tests, 1))


def render_unit_test_verdicts(passed: Sequence[bool]) -> str:
    """One verdict line per unit test: ``Unit Test #1: [Passed]``."""
    return "\n".join(
        f"Unit Test #{number}: {'[Passed]' if ok else '[Failed]'}"
        for number, ok in enumerate(passed, 1)
    )
