"""The benchmarks by name, and choosing part of one reproducibly."""

from __future__ import annotations

import difflib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal, TypeVar

from .._exceptions import ConfigError, InvalidInputError
from ._sets_code import load_code_contests, load_humaneval, load_mbpp
from ._sets_text import (
    load_alpaca_eval,
    load_arena_hard,
    load_gsm8k,
    load_math,
    load_mixeval,
    load_mt_bench,
)
from ._types import BenchmarkItem

__all__ = ["Benchmark", "benchmark_names", "get_benchmark", "select"]

T = TypeVar("T")

#: How a benchmark's answers are scored: exact match, running code, rules, or an LLM judge.
Scoring = Literal["exact", "code", "rule", "judge"]


@dataclass(frozen=True)
class Benchmark:
    """A benchmark: where its questions come from and how its answers are scored.

    Attributes:
        name: the registry name (``gsm8k``, ``mt_bench``...).
        title: a human name.
        scoring: ``exact`` (GSM8K, MATH), ``code`` (HumanEval, MBPP, CodeContests),
            ``rule`` (MixEval, by rule parsing; its official scores use a model parser) or
            ``judge`` (MT-Bench, Arena-Hard, AlpacaEval: an LLM judge is needed).
        shipped: whether the data comes with the package (else ``path`` is required).
        path: the data file or folder given by the user, if any.
    """

    name: str
    title: str
    scoring: Scoring
    shipped: bool
    loader: Callable[[Path | None], list[BenchmarkItem]]
    path: Path | None = None

    def items(self) -> list[BenchmarkItem]:
        """Every question, in the order of the source file.

        Raises:
            BenchmarkDataError: the data is missing (the message says where to get it) or
                malformed.
        """
        return self.loader(self.path)


_MIXEVAL_TITLE = "MixEval{} (our own prompts: not comparable with the MixEval leaderboard)"

_TABLE: dict[str, tuple[str, Scoring, bool, Callable[[Path | None], list[BenchmarkItem]]]] = {
    "gsm8k": ("GSM8K (test, 1319)", "exact", True, load_gsm8k),
    "math": ("MATH (test)", "exact", False, load_math),
    "mt_bench": ("MT-Bench (80, two turns)", "judge", True, load_mt_bench),
    "arena_hard": ("Arena-Hard-Auto v0.1 (500)", "judge", True, load_arena_hard),
    "alpaca_eval": ("AlpacaEval 2.0 (805)", "judge", False, load_alpaca_eval),
    # Our prompts and rule parsing, not MixEval's protocol (see _prompts): say so by name.
    "mixeval": (_MIXEVAL_TITLE.format(""), "rule", False, partial(load_mixeval, hard=False)),
    "mixeval_hard": (
        _MIXEVAL_TITLE.format("-Hard"),
        "rule",
        False,
        partial(load_mixeval, hard=True),
    ),
    "humaneval": ("HumanEval (164)", "code", True, load_humaneval),
    "mbpp": ("MBPP (test, task ids 11-510)", "code", True, load_mbpp),
    "code_contests": ("CodeContests (test)", "code", False, load_code_contests),
}


def benchmark_names() -> list[str]:
    """The names `get_benchmark` accepts, in a stable order."""
    return list(_TABLE)


def get_benchmark(name: str, *, path: Path | str | None = None) -> Benchmark:
    """The benchmark called ``name``; ``path`` points at its data where it is not shipped
    (or replaces the shipped file).

    Raises:
        ConfigError: no benchmark has that name.
    """
    key = name.strip().lower().replace("-", "_")
    if key not in _TABLE:
        close = difflib.get_close_matches(key, _TABLE, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"unknown benchmark {name!r}; {hint}choose one of: {', '.join(_TABLE)}")
    title, scoring, shipped, loader = _TABLE[key]
    return Benchmark(
        name=key,
        title=title,
        scoring=scoring,
        shipped=shipped,
        loader=loader,
        path=Path(path).expanduser() if path is not None else None,
    )


def select(
    items: Sequence[T], *, limit: int | None = None, sample: int | None = None, seed: int | None = 0
) -> list[T]:
    """Part of a benchmark, reproducibly.

    ``sample`` picks that many items at random with ``seed`` (None means 0), kept in their
    original order; ``limit`` then keeps the first that many. The same arguments always
    give the same items.

    Raises:
        InvalidInputError: ``limit`` or ``sample`` is negative.
    """
    for value, flag in ((limit, "limit"), (sample, "sample")):
        if value is not None and value < 0:
            raise InvalidInputError(f"{flag} must not be negative")
    chosen = list(items)
    if sample is not None and sample < len(chosen):
        picked = sorted(
            random.Random(0 if seed is None else seed).sample(range(len(chosen)), sample)
        )
        chosen = [chosen[index] for index in picked]
    return chosen if limit is None else chosen[:limit]
