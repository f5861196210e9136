"""``archon-async batch --benchmark NAME``: a benchmark's questions in, official files and
scores out."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio

from ._batch_io import BatchItem
from ._exceptions import InvalidInputError

__all__ = ["benchmark_items"]

Finish = Callable[[Path], dict[str, Any]]


def answer_key(items: Sequence[Any]) -> dict[str, str]:
    """Question text -> expected answer, for the simulated provider's per-model skill, so
    that architectures can be compared on a benchmark without calling a real model."""
    key: dict[str, str] = {}
    for item in items:
        if isinstance(item.reference, str | int | float) and item.messages:
            key[item.messages[-1]["content"]] = str(item.reference)
    return key


def benchmark_items(
    args: argparse.Namespace,
) -> tuple[list[BatchItem], int, str, Finish, dict[str, str]]:
    """The batch items of the benchmark the options name, and what to do once answered:
    write the official evaluator's format next to the output, and score where no judge is
    needed.

    Raises:
        ConfigError: the benchmark name is unknown.
        BenchmarkDataError: its data is missing; the message says where to get it.
    """
    from .benchmarks import get_benchmark, select

    for value, flag in ((args.limit, "--limit"), (args.sample, "--sample")):
        if value is not None and value < 1:
            raise InvalidInputError(f"{flag} must be at least 1")
    benchmark = get_benchmark(args.benchmark, path=args.data)
    chosen = select(benchmark.items(), limit=args.limit, sample=args.sample, seed=args.seed)
    items = [BatchItem(id=item.id, messages=item.messages, turns=item.turns) for item in chosen]

    def finish(output: Path) -> dict[str, Any]:
        from .benchmarks import read_answers, score_all, write_official

        answers = read_answers(output)
        ordered = [answers[item.id] for item in chosen if item.id in answers]
        official = output.with_name(f"{output.stem}.official" + _suffix(benchmark.name))
        model = (args.config.stem if args.config else "archon-async-default").replace(" ", "_")
        written = write_official(benchmark, ordered, official, model=model)
        report: dict[str, Any] = {"official_files": [str(path) for path in written]}
        if benchmark.scoring == "judge":
            report["scoring"] = "needs an LLM judge: see archon_async.benchmarks.judge"
            return report
        texts = {item_id: str(record["answer"]) for item_id, record in answers.items()}

        async def score() -> Any:
            return await score_all(benchmark, chosen, texts)

        report["score"] = anyio.run(score).summary()
        return report

    return items, len(items), benchmark.name, finish, answer_key(chosen)


def _suffix(name: str) -> str:
    if name in ("mixeval", "mixeval_hard"):
        return ""  # a folder
    return ".json" if name == "alpaca_eval" else ".jsonl"
