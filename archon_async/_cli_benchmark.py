"""``archon-async batch --benchmark NAME``: a benchmark's questions in, official files and
scores out."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._batch_io import BatchItem
from ._cli_common import positive_float, run_async
from ._exceptions import InvalidInputError

__all__ = ["add_benchmark_options", "benchmark_items"]

Finish = Callable[[Path], dict[str, Any]]

#: Said in the summary of every MixEval run, whose scores people compare with a leaderboard.
MIXEVAL_NOTE = (
    "prompts and rule-based answer parsing are our own, not MixEval's protocol (its "
    "prompt templates and model parser): the accuracy is not comparable with the MixEval "
    "leaderboard. For a comparable score, run MixEval's compute_metrics on the official "
    "files written here"
)


def add_benchmark_options(parser: argparse.ArgumentParser) -> None:
    """Add the options of benchmark runs that the batch command does not define itself.

    ``--format``: the answer format of the official file, where a benchmark has several
    (Arena-Hard-Auto: ``current`` or ``legacy``, v0.1's, which Archon reads).
    """
    from .benchmarks._formats import ARENA_HARD_FORMATS

    parser.add_argument(
        "--format",
        choices=ARENA_HARD_FORMATS,
        default=ARENA_HARD_FORMATS[0],
        help="format of the official answers file (arena_hard only): current (uid/messages) "
        "or legacy (v0.1: question_id/choices, which Archon reads); default: %(default)s",
    )
    parser.add_argument(
        "--code-timeout",
        type=positive_float,
        default=3.0,
        metavar="SECONDS",
        help="wall-clock limit of each program of a code benchmark (default: %(default)s, "
        "human-eval's; CodeContests problems keep their own limits)",
    )
    parser.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="where no isolation works (no bubblewrap, no user namespaces), run model-written "
        "code as plain processes instead of refusing to score: only for code you trust",
    )


def _legacy(args: argparse.Namespace, benchmark: str) -> bool:
    # getattr: the option comes from add_benchmark_options, which a parser may not have.
    answer_format = getattr(args, "format", None) or "current"
    if answer_format == "current":
        return False
    if benchmark != "arena_hard":
        raise InvalidInputError(
            f"--format {answer_format} applies to arena_hard only; {benchmark} has one format"
        )
    return True


def benchmark_items(
    args: argparse.Namespace,
) -> tuple[list[BatchItem], int, str, Finish, dict[str, str]]:
    """The batch items of the benchmark the options name, what to do once answered (write
    the official evaluator's format next to the output, and score where no judge is
    needed), and the answer key the simulated provider gets (see `simulated_answer_key`).

    Raises:
        ConfigError: the benchmark name is unknown.
        InvalidInputError: a bad --format.
        BenchmarkDataError: its data is missing; the message says where to get it.
        SandboxUnavailableError: a code benchmark where no isolation works, without
            --unsafe-no-sandbox (before any call).
    """
    from .benchmarks import get_benchmark, select, simulated_answer_key

    benchmark = get_benchmark(args.benchmark, path=args.data)
    legacy = _legacy(args, benchmark.name)
    sandbox = _sandbox(args) if benchmark.scoring == "code" else None
    chosen = select(benchmark.items(), limit=args.limit, sample=args.sample, seed=args.seed)
    items = [BatchItem(id=item.id, messages=item.messages, turns=item.turns) for item in chosen]
    if len({item.id for item in items}) != len(items):  # the batch relies on unique ids
        raise InvalidInputError(f"{benchmark.name}: its data repeats an id; check the file")

    def finish(output: Path) -> dict[str, Any]:
        from .benchmarks import read_answers, score_all, write_official
        from .benchmarks._verdicts import annotate_answers

        answers = read_answers(output)
        ordered = [answers[item.id] for item in chosen if item.id in answers]
        official = output.with_name(f"{output.stem}.official" + _suffix(benchmark.name))
        model = (args.config.stem if args.config else "archon-async-default").replace(" ", "_")
        if any(record.get("simulated") is True for record in ordered):
            model += "-simulated"  # so that no leaderboard shows it as a real model
        written = write_official(benchmark, ordered, official, model=model, legacy=legacy)
        report: dict[str, Any] = {"official_files": [str(path) for path in written]}
        report.update(_official_notes(benchmark.name, model, legacy=legacy))
        if benchmark.scoring == "judge":
            report["scoring"] = (
                "needs an LLM judge: run archon-async judge --benchmark "
                f"{benchmark.name} --answers {output}"
                + (" --baseline BASELINE_ANSWERS" if benchmark.name == "arena_hard" else "")
            )
            return report
        if benchmark.name in ("mixeval", "mixeval_hard"):
            report["note"] = MIXEVAL_NOTE
        texts = {item_id: str(record["answer"]) for item_id, record in answers.items()}

        async def score() -> Any:
            return await score_all(benchmark, chosen, texts, sandbox=sandbox)

        scored = run_async(score)
        annotate_answers(output, scored.results, code=sandbox is not None)
        report["score"] = scored.summary() | {"verdicts_in": str(output)}
        return report

    return items, len(items), benchmark.name, finish, simulated_answer_key(benchmark.name, chosen)


def _official_notes(name: str, model: str, *, legacy: bool) -> dict[str, Any]:
    """What a user must know to feed the official files to the official tool."""
    if name == "arena_hard":
        from .benchmarks._tokens import describe_token_counts

        return {"token_len": describe_token_counts("cl100k_base" if legacy else "o200k_base")}
    if name in ("mixeval", "mixeval_hard"):
        from .benchmarks import mixeval_model_name

        registered = mixeval_model_name(model)
        return {
            "mixeval_model_name": registered,
            "mixeval_registration": f'add "{registered}": "{registered.title()}" to '
            "AVAILABLE_MODELS in MixEval's mix_eval/models/__init__.py, then run "
            f"mix_eval.compute_metrics --models_to_eval {registered} (see the README)",
        }
    return {}


def _sandbox(args: argparse.Namespace) -> Any:
    """The sandbox a code benchmark's answers will run in, its isolation found now: where
    there is none (and --unsafe-no-sandbox is not given) the run stops before any call.

    Raises:
        SandboxUnavailableError: no isolation here, and no --unsafe-no-sandbox.
    """
    from .benchmarks import Sandbox

    timeout = getattr(args, "code_timeout", 3.0)
    sandbox = Sandbox(timeout_s=timeout, allow_unsafe=getattr(args, "unsafe_no_sandbox", False))
    run_async(sandbox.resolve)
    return sandbox


def _suffix(name: str) -> str:
    if name in ("mixeval", "mixeval_hard"):
        return ""  # a folder
    return ".json" if name == "alpaca_eval" else ".jsonl"
