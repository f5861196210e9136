"""What the simulated models write: a reply per task, deterministic given a random source.

A model "knows" an answer-key question with probability ``skill``: each decision draws from
the ``random.Random`` the caller seeds from (seed, model, question, sample), so the same
request gets the same reply and another sample of it may not.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from archon_async.components.formats import (
    render_critiques,
    render_ranking,
    render_unit_test_verdicts,
    render_unit_tests,
    render_verdict,
)

from ._answers import KnownQuestion, contains_answer, wrong_answer
from ._tasks import Prompt, Task

__all__ = ["ReplyContext", "compose_reply", "estimate_tokens", "score_candidates"]

_WORDS = (
    "the approach considers each part of question carefully and explains why result follows "
    "from stated facts first we identify relevant quantities then combine them step by "
    "this gives clear answer that also notes assumptions limits alternatives in short "
    "reasoning checks every claim against what is known so conclusion holds well overall "
    "a simple example helps show how idea works practice while keeping details concise"
).split()
_NUMERIC = re.compile(r"^-?\d[\d,]*(?:\.\d+)?$")
# Without an answer key, how often a judge says "correct" / "passed".
_UNKNOWN_PASS_RATE = 0.75
_STRENGTHS = (
    "It addresses the query directly.",
    "It is clearly organised and easy to follow.",
    "It explains its reasoning step by step.",
)
_WEAKNESSES = (
    "It could be more concise.",
    "It leaves some assumptions unstated.",
    "It gives few concrete examples.",
)
_TEST_PHRASES = (
    "The answer states a final result explicitly.",
    "The answer addresses every part of the query.",
    "The answer explains the steps that lead to its result.",
    "The answer uses the quantities given in the query correctly.",
    "The answer contains no contradictory statements.",
    "The answer is phrased clearly and concisely.",
    "The answer mentions any assumption it makes.",
)


@dataclass(frozen=True, slots=True)
class ReplyContext:
    """Everything a reply depends on besides the prompt."""

    rng: random.Random
    skill: float
    known: KnownQuestion | None
    reply_words: int


def estimate_tokens(text: str) -> int:
    """About 1.3 tokens per word, at least one: deterministic, cheap usage counts."""
    return max(1, round(len(text.split()) * 1.3))


def filler(rng: random.Random, words: int) -> str:
    """Plausible-looking prose of ``words`` words, in sentences of 8 to 14 words."""
    sentences: list[str] = []
    left = max(1, words)
    while left > 0:
        size = left if left < 16 else rng.randint(8, 14)
        chosen = [rng.choice(_WORDS) for _ in range(size)]
        sentences.append(" ".join(chosen).capitalize() + ".")
        left -= size
    return " ".join(sentences)


def answer_text(answer: str, rng: random.Random) -> str:
    """A short worked answer ending the way graders look for: "The answer is X." (+ "#### X")."""
    text = f"{filler(rng, rng.randint(12, 24))} The answer is {answer}."
    if _NUMERIC.match(answer.strip()):
        text += f"\n#### {answer.strip()}"
    return text


def compose_reply(prompt: Prompt, ctx: ReplyContext) -> str:
    """The reply a model with ``ctx.skill`` writes to ``prompt``."""
    writer = _WRITERS[prompt.task]
    return writer(prompt, ctx)


def _generate(prompt: Prompt, ctx: ReplyContext) -> str:
    if ctx.known is None:
        return filler(ctx.rng, ctx.reply_words)
    return _answer(ctx, ctx.skill)


def _fuse(prompt: Prompt, ctx: ReplyContext) -> str:
    if ctx.known is None:
        return filler(ctx.rng, ctx.reply_words)
    # The fuser solves it itself with probability skill; otherwise it adopts the answer of a
    # random candidate, so candidates that agree on the right answer make it likelier.
    right = _correct_flags(prompt.candidates, ctx.known)
    share = sum(right) / len(right) if right else 0.0
    return _answer(ctx, 1 - (1 - ctx.skill) * (1 - share))


def _answer(ctx: ReplyContext, p_correct: float) -> str:
    assert ctx.known is not None
    correct = ctx.rng.random() < p_correct
    answer = ctx.known.answer if correct else wrong_answer(ctx.known.answer, ctx.rng)
    return answer_text(answer, ctx.rng)


def _rank(prompt: Prompt, ctx: ReplyContext) -> str:
    numbers = list(range(1, len(prompt.candidates) + 1)) or [1]
    ctx.rng.shuffle(numbers)
    if ctx.known is not None and prompt.candidates and ctx.rng.random() < ctx.skill:
        right = _correct_flags(prompt.candidates, ctx.known)
        numbers.sort(key=lambda number: not right[number - 1])
    return f"{filler(ctx.rng, 16)}\n{render_ranking(numbers)}"


def _critique(prompt: Prompt, ctx: ReplyContext) -> str:
    right = _correct_flags(prompt.candidates, ctx.known) if ctx.known else []
    pairs = []
    for index in range(max(1, len(prompt.candidates))):
        strength, weakness = ctx.rng.choice(_STRENGTHS), ctx.rng.choice(_WEAKNESSES)
        if right:
            if right[index]:
                strength = "Its final answer matches the expected result."
            else:
                weakness = "Its final answer looks wrong."
        pairs.append((strength, weakness))
    return render_critiques(pairs)


def _verify_reasoning(prompt: Prompt, ctx: ReplyContext) -> str:
    return filler(ctx.rng, max(20, ctx.reply_words // 2))


def _verify_verdict(prompt: Prompt, ctx: ReplyContext) -> str:
    if ctx.known is not None:
        correct = contains_answer(prompt.text, ctx.known)
    else:
        correct = ctx.rng.random() < _UNKNOWN_PASS_RATE
    return f"{filler(ctx.rng, 12)}\n{render_verdict(correct)}"


def _unit_tests(prompt: Prompt, ctx: ReplyContext) -> str:
    phrases = list(_TEST_PHRASES)
    ctx.rng.shuffle(phrases)
    tests = [phrases[index % len(phrases)] for index in range(prompt.count)]
    return render_unit_tests(tests)


def _unit_test_verdicts(prompt: Prompt, ctx: ReplyContext) -> str:
    if ctx.known is not None:
        right = contains_answer(prompt.text, ctx.known)
        # A wrong answer still passes the odd test about form; a right one passes them all.
        passed = [right or ctx.rng.random() < 0.25 for _ in range(prompt.count)]
    else:
        passed = [ctx.rng.random() < _UNKNOWN_PASS_RATE for _ in range(prompt.count)]
    return f"{filler(ctx.rng, 10)}\n{render_unit_test_verdicts(passed)}"


def _judge_rating(prompt: Prompt, ctx: ReplyContext) -> str:
    return f"{filler(ctx.rng, 20)}\n\nRating: [[{ctx.rng.randint(3, 9)}]]"


def _judge_pairwise(prompt: Prompt, ctx: ReplyContext) -> str:
    verdict = ctx.rng.choice(("A>>B", "A>B", "A=B", "B>A", "B>>A"))
    return f"{filler(ctx.rng, 20)}\n\nMy final verdict is [[{verdict}]]."


def _correct_flags(candidates: tuple[str, ...], known: KnownQuestion | None) -> list[bool]:
    if known is None:
        return [False] * len(candidates)
    return [contains_answer(candidate, known) for candidate in candidates]


def score_candidates(
    candidates: list[str], known: KnownQuestion | None, rng: random.Random
) -> list[float]:
    """PairRM-style scores: a deterministic spread in [0, 1), plus 1 for the right answer."""
    right = _correct_flags(tuple(candidates), known)
    return [round(rng.random() + (1.0 if ok else 0.0), 6) for ok in right]


_WRITERS = {
    Task.GENERATE: _generate,
    Task.FUSE: _fuse,
    Task.RANK: _rank,
    Task.CRITIQUE: _critique,
    Task.VERIFY_REASONING: _verify_reasoning,
    Task.VERIFY_VERDICT: _verify_verdict,
    Task.UNIT_TESTS: _unit_tests,
    Task.UNIT_TEST_VERDICTS: _unit_test_verdicts,
    Task.JUDGE_RATING: _judge_rating,
    Task.JUDGE_PAIRWISE: _judge_pairwise,
}
