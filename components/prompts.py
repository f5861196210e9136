"""The prompts of the built-in components (our wording; the reply formats are in `formats`).

Each prompt embeds its task's marker from `components.formats` verbatim: the simulated
provider recognises a task by its marker, and the replies it renders are the formats the
component parsers read.
"""

from __future__ import annotations

from collections.abc import Sequence

from .formats import (
    CRITIC_MARKER,
    FUSER_MARKER,
    RANKER_MARKER,
    UNIT_TEST_EVALUATOR_MARKER,
    UNIT_TEST_GENERATOR_MARKER,
    VERIFIER_REASONING_MARKER,
    VERIFIER_VERDICT_MARKER,
    render_critiques,
    render_unit_tests,
    render_verdict,
)

__all__ = [
    "CRITIC_PLACEHOLDERS",
    "CRITIC_SYSTEM",
    "FUSER_SYSTEM",
    "RANKER_SYSTEM",
    "UNIT_TEST_EVALUATOR_SYSTEM",
    "UNIT_TEST_GENERATOR_SYSTEM",
    "VERIFIER_SYSTEM",
    "critic_prompt",
    "fuser_prompt",
    "ranker_prompt",
    "unit_test_evaluator_prompt",
    "unit_test_generator_prompt",
    "verifier_reasoning_prompt",
    "verifier_verdict_prompt",
]

FUSER_SYSTEM = "You merge several answers to the same question into one better answer."
RANKER_SYSTEM = "You compare answers to the same question and order them by quality."
CRITIC_SYSTEM = "You are a careful, fair reviewer of answers."
VERIFIER_SYSTEM = "You check whether an answer to a question is correct."
UNIT_TEST_GENERATOR_SYSTEM = "You write checks that a correct answer to a question must pass."
UNIT_TEST_EVALUATOR_SYSTEM = "You judge whether an answer passes each of a list of checks."

# Every example a prompt shows is made of placeholders that no parser accepts as an answer:
# a model that copies the example back (small local models often do) gives a failed parse,
# which is asked again, instead of a ranking, critique, test or verdict nobody wrote.
#: The critic's example block; a critique holding them is a copy of the example.
CRITIC_PLACEHOLDERS = ("<a strength>", "<a weakness>")
_RANKING_EXAMPLE = "[X] > [Y] > [Z]"
_UNIT_TEST_EXAMPLE = "Unit Test #1: <a statement a correct answer makes true>"
_VERDICT_LINE_EXAMPLE = "Unit Test #N: [Passed] or [Failed]"


def _numbered(candidates: Sequence[str], critiques: Sequence[str] | None = None) -> str:
    blocks = []
    for number, candidate in enumerate(candidates, start=1):
        block = f"[{number}] {candidate}"
        if critiques is not None:
            block += f"\n\nCritique of [{number}]:\n{critiques[number - 1]}"
        blocks.append(block)
    return "\n\n".join(blocks)


def fuser_prompt(
    query: str,
    candidates: Sequence[str],
    critiques: Sequence[str] | None = None,
    *,
    length_control: bool = False,
) -> str:
    """Ask for one answer built from the candidates (and their critiques, when given)."""
    lines = [
        f"{FUSER_MARKER} to the user's latest query.",
        "",
        f"The query: {query}",
        "",
        "The candidates come from different models and some of them may be wrong, "
        "incomplete or biased. Weigh them critically: keep what is correct and useful, "
        "correct or leave out what is not, and write a single well-organised response "
        "that answers the query better than any one candidate. Do not simply copy one.",
    ]
    if critiques is not None:
        lines.append(
            "Each candidate is followed by a critique of its strengths and weaknesses; "
            "use the critiques to decide what to keep, but check them too."
        )
    if length_control:
        lines.append(
            "Keep your response about as long as the candidates: "
            "no longer than the longest of them."
        )
    lines += [
        "",
        "Candidate responses:",
        "",
        _numbered(candidates, critiques),
        "",
        f"Once more, the query: {query}",
        "Reply with the combined response only, without mentioning the candidates.",
    ]
    return "\n".join(lines)


def ranker_prompt(query: str, candidates: Sequence[str], critiques: Sequence[str] | None) -> str:
    """Ask for an ordering of the candidates, best first, ending with a ranking line."""
    count = len(candidates)
    basis = "how well each answers the query"
    if critiques is not None:
        basis += ", helped by the critique that follows each one"
    return "\n".join(
        [
            f"{RANKER_MARKER}, judging {basis}.",
            "",
            f"The query: {query}",
            "",
            _numbered(candidates, critiques),
            "",
            f"Once more, the query: {query}",
            "",
            f"Rank all {count} candidates, each exactly once, by their identifiers. You may "
            "explain your reasoning first; then finish with one last line that lists the "
            "identifiers from best to worst, in this form, with the candidates' numbers in "
            "place of the letters:",
            f"Ranking: {_RANKING_EXAMPLE}",
        ]
    )


def critic_prompt(query: str, candidates: Sequence[str]) -> str:
    """Ask for strengths and weaknesses of every candidate, one block each."""
    count = len(candidates)
    example = render_critiques([CRITIC_PLACEHOLDERS])
    return "\n".join(
        [
            f"{CRITIC_MARKER}: say what it does well and what it does poorly as an answer "
            "to the query.",
            "",
            f"The query: {query}",
            "",
            _numbered(candidates),
            "",
            f"Once more, the query: {query}",
            "",
            f"Write one block per candidate, for all {count} of them, in order from [1] to "
            f"[{count}]. Start each block with the candidate's identifier on its own line, "
            "then list its strengths and its weaknesses, like this:",
            example,
            "",
            "Give at least one strength and one weakness for every candidate, even when one "
            "side is thin. Separate the blocks with a blank line. Write nothing before the "
            "first block or after the last, and judge each candidate on its own.",
        ]
    )


def verifier_reasoning_prompt(query: str, candidate: str) -> str:
    """Ask for a step-by-step check of one candidate."""
    return "\n".join(
        [
            f"{VERIFIER_REASONING_MARKER}: reason about whether it answers the query "
            "accurately and completely.",
            "",
            f"The query: {query}",
            "",
            f"The response: {candidate}",
            "",
            f"Once more, the query: {query}",
            "",
            "Go through the response's claims and steps, say which hold and which do not, "
            "and point out anything the query asks for that it leaves out. Give the "
            "reasoning only, with no introduction or closing remarks.",
        ]
    )


def verifier_verdict_prompt(query: str, candidate: str, reasoning: str) -> str:
    """Ask for a verdict on one candidate, given the reasoning about it."""
    return "\n".join(
        [
            f"{VERIFIER_VERDICT_MARKER} below, given the query and a reasoning about it.",
            "- Consider whether the response agrees with the reasoning and answers the query.",
            "- Consider whether the reasoning itself is sound and complete.",
            "- Explain your judgement briefly, then end your reply with exactly one verdict: "
            f"{render_verdict(True)} or {render_verdict(False)}.",
            "",
            f"Query: {query}",
            f"Response: {candidate}",
            f"Reasoning: {reasoning}",
        ]
    )


def unit_test_generator_prompt(query: str, count: int | None) -> str:
    """Ask for unit tests for the query, one per line in the ``Unit Test #k:`` format."""
    how_many = f"exactly {count} unit tests" if count else "a set of unit tests"
    return "\n".join(
        [
            f"{UNIT_TEST_GENERATOR_MARKER}. Write {how_many}.",
            "- Together the tests should cover every part of the query.",
            "- Each test is one complete statement about the answer that can be checked, "
            "with its expected outcome (what the answer states, mentions or uses).",
            "- Output the tests only, one per line, numbered from 1, in this form, with your "
            "own statement in place of the part in angle brackets:",
            _UNIT_TEST_EXAMPLE,
            "",
            f"Query: {query}",
        ]
    )


def unit_test_evaluator_prompt(query: str, candidate: str, tests: Sequence[str]) -> str:
    """Ask whether one candidate passes each unit test, one verdict line per test."""
    return "\n".join(
        [
            f"{UNIT_TEST_EVALUATOR_MARKER}, and decide for each test whether the response "
            "passes it.",
            "- Consider the query, the response and what each test requires.",
            "- Reason first if you need to. Then end your reply with one verdict line per "
            "unit test, in the tests' order, with the test's number for N and only one of "
            "the two verdicts:",
            _VERDICT_LINE_EXAMPLE,
            "",
            f"Query: {query}",
            "",
            f"Candidate response: {candidate}",
            "",
            "Unit tests:",
            render_unit_tests(tests),
        ]
    )
