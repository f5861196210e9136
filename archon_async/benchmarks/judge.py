"""LLM-judge prompts and verdict parsing for MT-Bench, Arena-Hard-Auto and AlpacaEval.

The judge is an ordinary architecture: build the messages here, answer them with
``engine.generate(messages)``, and read the reply with `parse_judgement`.

* MT-Bench is graded one answer at a time on a 1-10 scale (FastChat's "single" mode), with
  FastChat's judge templates (Apache-2.0 data, shipped in ``data/mt_bench``); math,
  reasoning and coding questions include the GPT-4 reference answer.
* Arena-Hard-Auto and AlpacaEval compare the model's answer with a baseline's (pairwise),
  in our own wording, with a five-level verdict ``[[A>>B]]`` ... ``[[B>>A]]``. Judge each
  question twice, once with ``swap=True``, to cancel the judge's position bias.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .._exceptions import ConfigError, OutputParseError
from .._types import Message
from ._files import packaged, read_jsonl
from ._types import BenchmarkItem

if TYPE_CHECKING:
    from ._registry import Benchmark

__all__ = ["Judgement", "build_judge_messages", "judge_kind", "parse_judgement"]

#: FastChat's categories whose questions are graded against a reference answer.
_REFERENCE_CATEGORIES = ("math", "reasoning", "coding")

_PAIRWISE_SYSTEM = (
    "You are an impartial expert judge. You will see a user's prompt and two responses to "
    "it, from assistant A and assistant B. First write your own answer to the prompt, so "
    "that you have something to measure the responses against. Then assess each response: "
    "is it correct, does it follow the instructions, is it helpful, relevant and to the "
    "point, and does it leave out anything important? Point out mistakes plainly. Do not "
    "let the order of the responses, their length or the assistants' names sway you.\n\n"
    "End with exactly one verdict on its own line, chosen from:\n"
    "[[A>>B]] if A is clearly better\n"
    "[[A>B]] if A is slightly better\n"
    "[[A=B]] if they are about equally good\n"
    "[[B>A]] if B is slightly better\n"
    "[[B>>A]] if B is clearly better"
)

_PAIRWISE_USER = (
    "<|User Prompt|>\n{question}\n\n"
    "<|The Start of Assistant A's Answer|>\n{answer_a}\n<|The End of Assistant A's Answer|>\n\n"
    "<|The Start of Assistant B's Answer|>\n{answer_b}\n<|The End of Assistant B's Answer|>"
)

_VERDICTS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")


def judge_kind(benchmark: Benchmark | str) -> Literal["rating", "pairwise"]:
    """``rating`` for MT-Bench, ``pairwise`` for Arena-Hard-Auto and AlpacaEval.

    Raises:
        ConfigError: the benchmark is not judged.
    """
    name = benchmark if isinstance(benchmark, str) else benchmark.name
    if name == "mt_bench":
        return "rating"
    if name in ("arena_hard", "alpaca_eval"):
        return "pairwise"
    raise ConfigError(f"{name} is not scored by an LLM judge")


def _templates() -> dict[str, dict[str, str]]:
    return {row["name"]: row for row in read_jsonl(packaged("mt_bench/judge_prompts.jsonl"))}


def _mt_bench_messages(item: BenchmarkItem, answers: Sequence[str], turn: int) -> list[Message]:
    if turn not in (1, 2) or len(answers) < turn:
        raise ConfigError(f"MT-Bench {item.id}: turn {turn} needs {turn} answer(s)")
    needs_reference = item.metadata.get("category") in _REFERENCE_CATEGORIES and item.reference
    name = ("single-math-v1" if needs_reference else "single-v1") + (
        "-multi-turn" if turn == 2 else ""
    )
    template = _templates()[name]
    fields = {
        "question": item.turns[0],
        "answer": answers[0],
        "question_1": item.turns[0],
        "answer_1": answers[0],
        "question_2": item.turns[1] if len(item.turns) > 1 else "",
        "answer_2": answers[1] if len(answers) > 1 else "",
    }
    if needs_reference:
        references = list(item.reference)
        fields["ref_answer_1"] = references[0]
        fields["ref_answer_2"] = references[1] if len(references) > 1 else ""
    return [
        Message(role="system", content=template["system_prompt"]),
        Message(role="user", content=template["prompt_template"].format(**fields)),
    ]


def build_judge_messages(
    benchmark: Benchmark | str,
    item: BenchmarkItem,
    answers: str | Sequence[str],
    *,
    baseline: str | None = None,
    turn: int = 1,
    swap: bool = False,
) -> list[Message]:
    """The conversation to send to the judge for one answer.

    Args:
        benchmark: ``mt_bench``, ``arena_hard`` or ``alpaca_eval`` (or the Benchmark).
        item: the question.
        answers: the model's answer; for MT-Bench the answers to each turn.
        baseline: pairwise only: the baseline's answer (default: ``item.reference``, the
            baseline output of AlpacaEval's file).
        turn: MT-Bench only: grade turn 1 or turn 2 (turn 2 sees the whole conversation).
        swap: pairwise only: put the model's answer first (A) instead of second (B).

    Raises:
        ConfigError: the benchmark is not judged, a turn has no answer, or a pairwise
            judgement has no baseline answer.
    """
    kind = judge_kind(benchmark)
    replies = [answers] if isinstance(answers, str) else list(answers)
    if kind == "rating":
        return _mt_bench_messages(item, replies, turn)
    against = baseline if baseline is not None else item.reference
    if not isinstance(against, str):
        raise ConfigError(f"{item.id}: a pairwise judgement needs the baseline's answer")
    question = item.messages[-1]["content"]
    first, second = (replies[0], against) if swap else (against, replies[0])
    user = _PAIRWISE_USER.format(question=question, answer_a=first, answer_b=second)
    return [Message(role="system", content=_PAIRWISE_SYSTEM), Message(role="user", content=user)]


@dataclass(frozen=True, slots=True)
class Judgement:
    """A parsed verdict.

    Attributes:
        kind: ``rating`` or ``pairwise``.
        rating: the 1-10 grade (rating judgements).
        verdict: ``A>>B``, ``A>B``, ``A=B``, ``B>A`` or ``B>>A`` as written (pairwise).
        model_score: pairwise: 1.0 if the model's answer won, 0.5 for a tie, 0.0 if it lost,
            taking ``swap`` into account; rating: the rating.
        strong: pairwise: the win or loss was marked as clear (``>>``).
    """

    kind: Literal["rating", "pairwise"]
    rating: float | None
    verdict: str | None
    model_score: float
    strong: bool = False


def _bracketed(text: str) -> list[str]:
    found, start = [], text.find("[[")
    while start >= 0:
        end = text.find("]]", start + 2)
        if end < 0:
            break
        found.append(text[start + 2 : end].replace(" ", ""))
        start = text.find("[[", end + 2)
    return found


# FastChat's single-answer grading patterns (fastchat/llm_judge/common.py): "[[n]]", and
# "[n]" when the judge wrote no double brackets; the first match counts, as there.
_RATING = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_RATING_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")


def _rating(text: str) -> Judgement:
    match = _RATING.search(text) or _RATING_BACKUP.search(text)
    if match is not None:
        rating = float(match.group(1))
        if 0 <= rating <= 10:
            return Judgement("rating", rating, None, rating)
    raise OutputParseError("the judge gave no [[rating]] from 1 to 10", raw_output=text)


def parse_judgement(
    text: str, *, kind: Literal["rating", "pairwise"], swap: bool = False
) -> Judgement:
    """Read the judge's verdict: a rating as FastChat reads one (the first ``[[n]]``, else
    the first ``[n]``), or the ``[[A>B]]``-style label of a pairwise judgement.

    Args:
        text: the judge's reply.
        kind: what was asked for (see `judge_kind`).
        swap: the ``swap`` the messages were built with (pairwise).

    Raises:
        OutputParseError: no verdict, or (pairwise) conflicting verdicts in one reply.
    """
    if kind == "rating":
        return _rating(text)
    marks = _bracketed(text)
    verdicts = {mark for mark in marks if mark in _VERDICTS}
    if len(verdicts) != 1:
        problem = "no" if not verdicts else "conflicting"
        raise OutputParseError(f"the judge gave {problem} [[A>B]]-style verdict", raw_output=text)
    verdict = verdicts.pop()
    a_wins = verdict.startswith("A>")
    b_wins = verdict.startswith("B>")
    model_is_a = swap
    if not a_wins and not b_wins:
        score = 0.5
    else:
        score = 1.0 if a_wins == model_is_a else 0.0
    return Judgement("pairwise", None, verdict, score, strong=">>" in verdict)
