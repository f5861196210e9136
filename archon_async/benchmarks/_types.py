"""Value types and the error of the benchmarks package."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .._exceptions import ArchonError
from .._types import Message

__all__ = ["BenchmarkDataError", "BenchmarkItem", "ScoreResult"]


class BenchmarkDataError(ArchonError, ValueError):
    """A benchmark's data is missing or not in the expected format.

    The message says where to get the data when it is not shipped with the package.
    """


@dataclass(frozen=True)
class BenchmarkItem:
    """One question of a benchmark.

    Attributes:
        id: unique within the benchmark, a string (the batch output line carries it).
        messages: the conversation to answer; empty for multi-turn items.
        turns: for multi-turn benchmarks (MT-Bench), the user turns, answered one after
            another with the conversation so far; ``messages`` is then empty.
        reference: what the answer is checked against: the expected answer (GSM8K, MATH,
            MixEval), the tests (HumanEval, MBPP, CodeContests), reference answers (MT-Bench),
            a baseline answer (AlpacaEval), or None.
        metadata: the fields of the source record the writers and scorers need.
    """

    id: str
    messages: tuple[Message, ...] = ()
    turns: tuple[str, ...] = ()
    reference: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False)


ScoreStatus = Literal["correct", "wrong", "passed", "failed", "timeout", "memory", "error"]


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """The score of one answer.

    Attributes:
        id: the item's id.
        correct: True when the answer is right (or the code passed every test).
        prediction: what was extracted from the answer (a number, a letter, the code).
        status: ``correct``/``wrong`` for exact match; ``passed``/``failed``/``timeout``/
            ``memory``/``error`` for code.
        detail: why, in a line (an expected value, the tail of stderr).
    """

    id: str
    correct: bool
    prediction: str | None
    status: ScoreStatus
    detail: str = ""
