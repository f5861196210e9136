"""The answer key: which known question a prompt is about, and whether a text answers it."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["AnswerKey", "KnownQuestion", "contains_answer", "normalize", "wrong_answer"]

# Questions are indexed by their first words, so that finding one inside a long component
# prompt costs one dictionary look-up per word of the prompt, not one search per question.
_INDEX_WORDS = 3
_NUMBER = re.compile(r"^-?\d[\d,]*(?:\.\d+)?$")
_STATEMENT = re.compile(r"(?:answer is|####)")
_DISTRACTORS = ("it cannot be determined", "none of the given options", "there is no solution")


def normalize(text: str) -> str:
    """Lower case, whitespace collapsed: the form questions are compared in."""
    return " ".join(text.split()).lower()


@dataclass(frozen=True, slots=True)
class KnownQuestion:
    """An answer-key entry found in a prompt (question in normalised form)."""

    question: str
    answer: str


class AnswerKey:
    """Finds answer-key questions in prompts: exact (normalised) match, or containment.

    Args:
        entries: question text or question id -> correct answer.
    """

    def __init__(self, entries: Mapping[str, str]) -> None:
        self._exact = {normalize(question): answer for question, answer in entries.items()}
        self._short: list[str] = []
        self._index: dict[tuple[str, str, str], list[str]] = {}
        for question in self._exact:
            words = question.split(" ")
            if len(words) < _INDEX_WORDS:
                self._short.append(question)
            else:
                self._index.setdefault((words[0], words[1], words[2]), []).append(question)

    def __len__(self) -> int:
        return len(self._exact)

    def find(self, text: str, question_id: str | None = None) -> KnownQuestion | None:
        """The entry ``text`` is about: by id, by exact text, else the longest one it contains."""
        if not self._exact:
            return None
        if question_id:
            probe = normalize(question_id)
            if probe in self._exact:
                return KnownQuestion(probe, self._exact[probe])
        body = normalize(text)
        if body in self._exact:
            return KnownQuestion(body, self._exact[body])
        found = [question for question in self._short if question in body]
        words = body.split(" ")
        # Set operations run in C: much cheaper than a look-up per word in Python.
        shown = set(zip(words, words[1:], words[2:], strict=False)) & self._index.keys()
        for start in shown:
            found.extend(question for question in self._index[start] if question in body)
        if not found:
            return None
        best = max(found, key=len)
        return KnownQuestion(best, self._exact[best])


def contains_answer(text: str, known: KnownQuestion) -> bool:
    """Whether ``text`` gives the answer.

    Where the text states answers ("the answer is X", "#### X"), only those count, so that
    numbers in the surrounding prompt do not; otherwise the answer must appear as a whole
    word outside the repeated question.
    """
    body = normalize(text).replace(known.question, " ")
    # The body is normalised (whitespace collapsed): so must the answer be, or an answer
    # spanning lines (code) would never match.
    variants = {known.answer.strip().lower(), normalize(known.answer)}
    if _NUMBER.match(known.answer.strip()):
        variants.add(known.answer.strip().replace(",", ""))
    variants.discard("")
    if _STATEMENT.search(body):
        prefix = _STATEMENT.pattern + r"\s*\$?\s*"
    else:
        prefix = r"(?<![\w.])"
    return any(
        re.search(prefix + re.escape(variant) + r"(?![\w]|\.\d)", body) for variant in variants
    )


def wrong_answer(answer: str, rng: random.Random) -> str:
    """A plausible answer that differs from ``answer`` (a nearby number, another letter...)."""
    stripped = answer.strip()
    if _NUMBER.match(stripped):
        value = float(stripped.replace(",", ""))
        delta = rng.choice((1, 2, 3, 4, 5, 10)) * rng.choice((1, -1))
        if value + delta < 0 <= value:
            delta = -delta
        wrong = value + delta
        return str(int(wrong)) if "." not in stripped else f"{wrong:g}"
    if len(stripped) == 1 and stripped.isalpha():
        letters = [letter for letter in "ABCDE" if letter != stripped.upper()]
        choice = rng.choice(letters)
        return choice if stripped.isupper() else choice.lower()
    options = [text for text in _DISTRACTORS if stripped.lower() not in text]
    return rng.choice(options or ["unknown"])
