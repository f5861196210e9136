"""Scoring without a judge: exact match, rule parsing, and running code."""

from __future__ import annotations

import asyncio
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._exceptions import ConfigError
from ._code import (
    extract_code,
    humaneval_completion,
    humaneval_program,
    mbpp_program,
    stdio_code,
    tested_function,
)
from ._gsm8k_answers import extract_gsm8k_answer, gsm8k_equal, normalize_number
from ._math_answers import extract_math_answer, math_equal
from ._prompts import option_letters
from ._types import BenchmarkItem, ScoreResult
from .sandbox import Sandbox, SandboxResult

if TYPE_CHECKING:
    from ._registry import Benchmark

__all__ = ["ScoreReport", "score", "score_all", "score_code"]

_CODE = ("humaneval", "mbpp", "code_contests")
_JUDGED = ("mt_bench", "arena_hard", "alpaca_eval")


def _name(benchmark: Benchmark | str) -> str:
    return benchmark if isinstance(benchmark, str) else benchmark.name


def score(benchmark: Benchmark | str, item: BenchmarkItem, answer: str) -> ScoreResult:
    """Score one answer of GSM8K, MATH or MixEval (no code is run, no judge is asked).

    Raises:
        ConfigError: the benchmark needs code execution (use `score_code`) or a judge.
    """
    name = _name(benchmark)
    if name == "gsm8k":
        predicted = extract_gsm8k_answer(answer)
        expected = normalize_number(str(item.reference))
        return _verdict(item.id, predicted, gsm8k_equal(predicted, expected), expected)
    if name == "math":
        predicted = extract_math_answer(answer)
        return _verdict(
            item.id, predicted, math_equal(predicted, str(item.reference)), item.reference
        )
    if name in ("mixeval", "mixeval_hard"):
        return _score_mixeval(item, answer)
    if name in _CODE:
        raise ConfigError(f"{name} is scored by running code: use score_code or score_all")
    raise ConfigError(_judged(name))


def _judged(name: str) -> str:
    return (
        f"{name} is scored by an LLM judge: run archon-async judge --benchmark {name} "
        "--answers ANSWERS (in Python, see archon_async.benchmarks.judge)"
    )


def _verdict(ident: str, predicted: str | None, correct: bool, expected: Any) -> ScoreResult:
    return ScoreResult(
        id=ident,
        correct=correct,
        prediction=predicted,
        status="correct" if correct else "wrong",
        detail=f"expected {expected}",
    )


_LETTER_PATTERNS = (
    r"answer\s*(?:is|:)\s*:?\s*\(?\**([A-Z])\b",
    r"^\s*\(?\**([A-Z])\**\)?(?:[.:)\s]|$)",
    r"\(([A-Z])\)",
    r"\b([A-Z])\b",
)


def _choice_letter(answer: str, letters: Sequence[str]) -> str | None:
    for pattern in _LETTER_PATTERNS:
        for found in re.findall(pattern, answer, re.MULTILINE):
            if found in letters:
                return str(found)
    return None


def _normalize_text(text: str) -> str:
    text = text.lower().translate(str.maketrans("", "", string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _score_mixeval(item: BenchmarkItem, answer: str) -> ScoreResult:
    """Rule parsing, an approximation of MixEval's model parser (its official default)."""
    record: Mapping[str, Any] = item.metadata["record"]
    targets = list(item.reference or [])
    if "options" in record:
        letters = option_letters(len(record["options"]))
        predicted = _choice_letter(answer, letters)
        expected = [letters[index] for index in targets if 0 <= index < len(letters)]
        return _verdict(item.id, predicted, predicted in expected, expected)
    response = _normalize_text(answer)
    wanted = [_normalize_text(str(target)) for target in targets]
    correct = any(
        target and (response == target or f" {target} " in f" {response} ") for target in wanted
    )
    return _verdict(item.id, answer.strip()[:200], correct, targets)


async def score_code(
    benchmark: Benchmark | str, item: BenchmarkItem, answer: str, *, sandbox: Sandbox
) -> ScoreResult:
    """pass@1 of one answer of HumanEval, MBPP or CodeContests, run in ``sandbox``.

    HumanEval and MBPP programs pass only when every test ran (see `Sandbox.run` with
    ``tests=True``); the code scored is the answer's block that defines the tested
    function. CodeContests programs read each test's input and must print its output.

    Raises:
        ConfigError: the benchmark is not a code benchmark.
        SandboxUnavailableError: no isolation here, and the sandbox does not allow unsafe
            runs.
    """
    name = _name(benchmark)
    if name == "humaneval":
        meta = item.metadata
        completion = humaneval_completion(meta["prompt"], meta["entry_point"], answer)
        program = humaneval_program(meta["prompt"], completion, item.reference, meta["entry_point"])
        return _from_run(item.id, completion, await sandbox.run(program, tests=True))
    if name == "mbpp":
        code = extract_code(answer, entry_point=tested_function(item.reference, answer))
        program = mbpp_program(item.metadata["test_setup_code"], code, item.reference)
        return _from_run(item.id, code, await sandbox.run(program, tests=True))
    if name == "code_contests":
        return await _score_stdio(item, stdio_code(answer), sandbox)
    raise ConfigError(f"{name} is not a code benchmark")


def _from_run(ident: str, code: str, run: SandboxResult, detail: str = "") -> ScoreResult:
    return ScoreResult(
        id=ident,
        correct=run.passed,
        prediction=code,
        status=run.status,
        detail=detail or run.detail,
    )


async def _score_stdio(item: BenchmarkItem, code: str, sandbox: Sandbox) -> ScoreResult:
    timeout = item.metadata.get("time_limit_s")
    cases = [
        (given, expected)
        for group in ("public_tests", "private_tests", "generated_tests")
        for given, expected in zip(
            item.reference[group]["input"], item.reference[group]["output"], strict=True
        )
    ]
    for number, (given, expected) in enumerate(cases, start=1):
        run = await sandbox.run(code, stdin=given, timeout_s=timeout)
        if not run.passed:
            why = f"test {number} of {len(cases)}: {run.status}: {run.detail}"
            return _from_run(item.id, code, run, why)
        if run.stdout.split() != expected.split():
            return ScoreResult(item.id, False, code, "failed", f"test {number}: wrong output")
    return ScoreResult(item.id, True, code, "passed", f"{len(cases)} tests")


@dataclass
class ScoreReport:
    """The scores of a run.

    Attributes:
        results: one per item, in item order (an item without an answer is wrong, status
            ``error``, detail ``no answer``).
        sandbox: for code benchmarks, the isolation and limits the programs ran with
            (`Sandbox.describe`).
    """

    results: list[ScoreResult] = field(default_factory=list)
    sandbox: dict[str, Any] | None = None

    @property
    def accuracy(self) -> float:
        """The share of items answered correctly (pass@1 for code), 0.0 when empty."""
        if not self.results:
            return 0.0
        return sum(result.correct for result in self.results) / len(self.results)

    def summary(self) -> dict[str, Any]:
        """Counts by status and the accuracy (and the sandbox used), JSON-ready."""
        counts: dict[str, int] = {}
        for result in self.results:
            counts[result.status] = counts.get(result.status, 0) + 1
        summary = {"scored": len(self.results), "accuracy": round(self.accuracy, 4), **counts}
        return summary if self.sandbox is None else {**summary, "sandbox": self.sandbox}


async def score_all(
    benchmark: Benchmark | str,
    items: Sequence[BenchmarkItem],
    answers: Mapping[str, str | Mapping[str, Any]],
    *,
    concurrency: int = 2,
    sandbox: Sandbox | None = None,
) -> ScoreReport:
    """Score every item that can be scored without a judge.

    Args:
        benchmark: the benchmark (or its name).
        items: the items that were run.
        answers: by item id, the answer text or the batch output record (`read_answers`).
        concurrency: programs run at once (code benchmarks); one per core is sensible.
        sandbox: where code runs (default: a `Sandbox()` with its default limits: 3 s per
            program, refusing to run without isolation).

    Raises:
        ConfigError: the benchmark needs a judge, or ``concurrency`` is below 1.
        SandboxUnavailableError: a code benchmark, no isolation here, and the sandbox does
            not allow unsafe runs (raised before any program runs).
    """
    name = _name(benchmark)
    if name in _JUDGED:
        raise ConfigError(_judged(name))
    if concurrency < 1:
        raise ConfigError("concurrency must be at least 1")
    runner = sandbox or Sandbox()
    if name in _CODE:
        await runner.resolve()  # refuse before anything runs when there is no isolation
    gate = asyncio.Semaphore(concurrency)

    async def one(item: BenchmarkItem) -> ScoreResult:
        given = answers.get(item.id)
        answer = given.get("answer") if isinstance(given, Mapping) else given
        if not isinstance(answer, str):
            return ScoreResult(item.id, False, None, "error", "no answer")
        if name not in _CODE:
            return score(name, item, answer)
        async with gate:
            return await score_code(name, item, answer, sandbox=runner)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(item)) for item in items]
    described = runner.describe() if name in _CODE else None
    return ScoreReport([task.result() for task in tasks], sandbox=described)
