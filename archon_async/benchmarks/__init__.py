"""Benchmarks: question sets, prompts, official output formats and scoring.

    >>> from archon_async.benchmarks import get_benchmark, select
    >>> bench = get_benchmark("gsm8k")
    >>> items = select(bench.items(), sample=50, seed=1)

The redistributable sets (GSM8K, MT-Bench, Arena-Hard-Auto v0.1, HumanEval, MBPP) ship in
``data/`` with their licences (``data/NOTICE.md``); MATH, AlpacaEval, MixEval and
CodeContests are read from a path the user gives (``get_benchmark(name, path=...)``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._answer_key import simulated_answer, simulated_answer_key
    from ._baseline import read_baseline
    from ._code import extract_code
    from ._formats import ARENA_HARD_FORMATS
    from ._gsm8k_answers import extract_gsm8k_answer
    from ._math_answers import (
        extract_math_answer,
        last_boxed,
        math_equal,
        normalize_math_answer,
    )
    from ._registry import Benchmark, benchmark_names, get_benchmark, select
    from ._scoring import ScoreReport, score, score_all, score_code
    from ._types import BenchmarkDataError, BenchmarkItem, ScoreResult
    from .judge import Judgement, build_judge_messages, judge_kind, parse_judgement
    from .sandbox import Sandbox, SandboxResult, SandboxUnavailableError, run_python
    from .writers import mixeval_model_name, read_answers, write_official

__all__ = [
    "ARENA_HARD_FORMATS",
    "Benchmark",
    "BenchmarkDataError",
    "BenchmarkItem",
    "Judgement",
    "Sandbox",
    "SandboxResult",
    "SandboxUnavailableError",
    "ScoreReport",
    "ScoreResult",
    "benchmark_names",
    "build_judge_messages",
    "extract_code",
    "extract_gsm8k_answer",
    "extract_math_answer",
    "get_benchmark",
    "judge_kind",
    "last_boxed",
    "math_equal",
    "mixeval_model_name",
    "normalize_math_answer",
    "parse_judgement",
    "read_answers",
    "read_baseline",
    "run_python",
    "score",
    "score_all",
    "score_code",
    "select",
    "simulated_answer",
    "simulated_answer_key",
    "write_official",
]

# Each name's module, imported when the name is first used: the command line builds its
# parsers (and a batch or a run goes) without loading scorers, sandboxes and writers.
_MODULES = {
    "ARENA_HARD_FORMATS": "._formats",
    **dict.fromkeys(["simulated_answer", "simulated_answer_key"], "._answer_key"),
    "read_baseline": "._baseline",
    "extract_code": "._code",
    "extract_gsm8k_answer": "._gsm8k_answers",
    **dict.fromkeys(
        ["extract_math_answer", "last_boxed", "math_equal", "normalize_math_answer"],
        "._math_answers",
    ),
    **dict.fromkeys(["Benchmark", "benchmark_names", "get_benchmark", "select"], "._registry"),
    **dict.fromkeys(["ScoreReport", "score", "score_all", "score_code"], "._scoring"),
    **dict.fromkeys(["BenchmarkDataError", "BenchmarkItem", "ScoreResult"], "._types"),
    **dict.fromkeys(
        ["Judgement", "build_judge_messages", "judge_kind", "parse_judgement"], ".judge"
    ),
    **dict.fromkeys(
        ["Sandbox", "SandboxResult", "SandboxUnavailableError", "run_python"], ".sandbox"
    ),
    **dict.fromkeys(["mixeval_model_name", "read_answers", "write_official"], ".writers"),
}


if not TYPE_CHECKING:  # type checkers read the imports above (and flag unknown names)

    def __getattr__(name: str) -> Any:
        module = _MODULES.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module(module, __name__), name)
        globals()[name] = value  # once: later lookups find it without this function
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
