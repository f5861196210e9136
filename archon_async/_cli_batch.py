"""``archon-async batch``: many prompts from a JSONL file or a benchmark."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import random
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from ._batch import COMMAND_STARTS_PER_TURN, run_batch
from ._batch_io import BatchItem, iter_jsonl_items, validate_jsonl_input
from ._batch_outage import DEFAULT_WAIT_S
from ._cli_common import (
    TERMINATED,
    UsageError,
    check_cache_path,
    check_output_path,
    check_summary_path,
    positive_float,
    positive_int,
    report_summary,
    run_async,
)
from ._exceptions import BatchStoppedError
from ._progress import BatchStats
from .callpath._journal import SpendJournal, journal_beside, spent_all_runs

__all__ = ["add_batch_command"]


def add_batch_command(commands: Any) -> None:
    """Add the ``batch`` sub-command to the CLI."""
    from .cli import _add_engine_options

    batch = commands.add_parser(
        "batch",
        help="answer many prompts (a JSONL file or a benchmark), resumable",
        description='Each input line is {"id": ..., "prompt": "..."} or {"id": ..., '
        '"messages": [...]}. Each output line carries the same id with the answer or the '
        "error, tokens and latency. Rerun with the same --output to resume.",
    )
    batch.add_argument(
        "config",
        nargs="?",
        type=Path,
        help="architecture JSON file (default: the built-in one, simulated)",
    )
    source = batch.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", type=Path, help="prompts, one JSON object a line")
    source.add_argument("--benchmark", help="a benchmark name (see --list-benchmarks)")
    source.add_argument("--list-benchmarks", action="store_true", help="list benchmarks and exit")
    batch.add_argument(
        "--data", type=Path, help="the benchmark's data file, where it is not shipped"
    )
    batch.add_argument(
        "--output",
        type=Path,
        help="answers JSONL (default: <input or benchmark>.<config>.answers.jsonl)",
    )
    batch.add_argument("--limit", type=positive_int, help="only the first N prompts")
    batch.add_argument(
        "--sample", type=positive_int, help="a random sample of N prompts (see --seed)"
    )
    batch.add_argument(
        "--concurrency", type=positive_int, default=64, help="prompts in flight at once"
    )
    batch.add_argument(
        "--starts-per-turn",
        type=positive_int,
        default=COMMAND_STARTS_PER_TURN,
        help="prompts started in one event-loop turn at most (default: %(default)s; 1 keeps "
        "the loop's lag lowest, more take less CPU a call)",
    )
    batch.add_argument(
        "--no-retry-errors",
        action="store_true",
        help="on resume, keep error lines instead of running those prompts again",
    )
    batch.add_argument(
        "--provider-down-wait",
        type=positive_float,
        default=DEFAULT_WAIT_S,
        metavar="SECONDS",
        help="how long to wait for a provider that is down (its model's circuit open, no "
        "'unavailable' fallback) before stopping; meanwhile no prompt starts (default: "
        "%(default)g)",
    )
    batch.add_argument("--summary", type=Path, help="also write the summary JSON here")
    from ._cli_benchmark import add_benchmark_options

    add_benchmark_options(batch)
    _add_engine_options(batch)
    batch.set_defaults(handler=_batch)


def _batch(args: argparse.Namespace) -> int:
    from .cli import engine_from_args

    if args.list_benchmarks:
        from .benchmarks import benchmark_names

        sys.stdout.write("\n".join(benchmark_names()) + "\n")
        return 0
    with contextlib.ExitStack() as cleanup:
        if args.input is not None and str(args.input) == "-":
            args.input = cleanup.enter_context(_spooled_stdin())
        return _run(args, engine_from_args)


def _estimate(engine: Any, items: Any, output: Path | TextIO, args: argparse.Namespace) -> int:
    """``--estimate``: what the rerun would still spend (prompts already answered in the
    output are skipped, as the run would)."""
    from ._batch_io import answered_ids
    from ._cli_callpath import item_prompts, print_estimate

    done: set[str] = set()
    if isinstance(output, Path):
        done = answered_ids(output, retry_errors=not args.no_retry_errors)
    skipped = 0

    def left() -> Iterator[BatchItem]:
        nonlocal skipped
        for item in items:
            if item.id in done:
                skipped += 1
            else:
                yield item

    prompts = list(item_prompts(left()))
    return print_estimate(engine, prompts, args, already_answered=skipped)


def _run(args: argparse.Namespace, engine_from_args: Any) -> int:
    items, total, name, finish, key = _items(args)
    config_name = args.config.stem if args.config else "default"
    path: Path = args.output or Path(f"{name}.{config_name}.answers.jsonl")
    output = _output(path, args, scored=finish is not None)
    check_cache_path(args.cache, path, input=args.input, summary=args.summary)
    engine = engine_from_args(args.config, args, answer_key=key)
    if args.estimate:
        return _estimate(engine, items, output, args)
    check_summary_path(args.summary, input=args.input, output=path)
    from ._cli_simulated import announce_simulated

    announce_simulated(engine, command="batch", chosen=args.config is not None)
    stats = BatchStats(total=total)
    journal = None if output is sys.stdout else journal_beside(path)
    engine.callpath.journal = journal

    async def go() -> Any:
        return await run_batch(
            engine,
            items,
            output,
            total=total,
            concurrency=args.concurrency,
            retry_errors=not args.no_retry_errors,
            stats=stats,
            unique_ids=True,  # checked with the input file, or unique in the benchmark
            starts_per_turn=args.starts_per_turn,
            provider_down_wait_s=args.provider_down_wait,
        )

    # A stopped batch (Ctrl-C, a kill, a failure every prompt would meet) still says what it
    # did and spent: the summary is the bill. SIGTERM sets cli.TERMINATED.
    try:
        run_async(go)
    except (KeyboardInterrupt, BatchStoppedError) as exc:
        return _report_stopped(exc, engine, stats, journal, output, args)
    summary = stats.summary()
    summary["output"] = "-" if output is sys.stdout else str(output)
    summary.update(spent_all_runs(journal))
    if finish is not None:
        summary.update(finish(path))
    report_summary({"simulated": engine.simulated} | summary, args.summary)
    return 0 if stats.failed == 0 else 3


def _output(path: Path, args: argparse.Namespace, *, scored: bool) -> Path | TextIO:
    """Where the answers go: ``path``, or standard output for ``--output -`` (an input
    file's batch only: a benchmark is ``scored`` from its file).

    Raises:
        UsageError: ``-`` for a benchmark, the input file itself, or a path that cannot be
            written.
    """
    if str(path) == "-":
        if scored:
            raise UsageError("--output - is for --input batches: a benchmark is scored from a file")
        return sys.stdout  # answers on standard output; the summary stays on stderr
    if args.input is not None and _same_file(path, args.input):
        raise UsageError(f"--output {path} is the input file: give another --output")
    check_output_path(path, "--output")
    return path


def _report_stopped(
    exc: KeyboardInterrupt | BatchStoppedError,
    engine: Any,
    stats: BatchStats,
    journal: SpendJournal | None,
    output: Path | TextIO,
    args: argparse.Namespace,
) -> int:
    """Report a batch stopped by Ctrl-C, a kill or a failure every prompt would meet: the
    summary still says what it did and spent, and how to go on.
    Returns the exit status: 1 when stopped, 130 or 143 when interrupted or terminated."""
    from ._cli_callpath import stopped_fields

    terminated = TERMINATED.is_set()
    why = "terminated" if terminated else "interrupted"
    why = why if isinstance(exc, KeyboardInterrupt) else str(exc)
    said: dict[str, Any] = {"output": "-" if output is sys.stdout else str(output)}
    said["stopped"] = why
    if isinstance(exc, BatchStoppedError):
        said.update(stopped_fields(exc, args, retry_errors=not args.no_retry_errors))
    said.update(spent_all_runs(journal))
    # "simulated" first, so that no one reads a simulated bill or score for a real one.
    report_summary({"simulated": engine.simulated} | stats.summary() | said, args.summary)
    if isinstance(exc, BatchStoppedError):
        return 1
    return 143 if terminated else 130


def _items(args: argparse.Namespace) -> tuple[Any, int, str, Any, dict[str, str]]:
    if args.input is None:
        from ._cli_benchmark import benchmark_items

        return benchmark_items(args)
    from_stdin = args.input.name.startswith(_STDIN_PREFIX)
    total = validate_jsonl_input(args.input, shown_as="standard input" if from_stdin else None)
    # The file is read lazily (twice for a sample: once to count, here to pick), so a big
    # input never sits in memory.
    items: Iterable[BatchItem] = iter_jsonl_items(args.input)
    if args.sample is not None and args.sample < total:
        rng = random.Random(args.seed)
        picked = set(rng.sample(range(total), args.sample))
        items = (item for index, item in enumerate(items) if index in picked)
        total = args.sample
    if args.limit is not None and args.limit < total:
        items, total = itertools.islice(items, args.limit), args.limit
    name = "stdin" if from_stdin else args.input.stem
    return items, total, name, None, {}


_STDIN_PREFIX = "archon-async-stdin-"


@contextlib.contextmanager
def _spooled_stdin() -> Iterator[Path]:
    """Standard input copied to a temporary file: the input is checked whole before any
    call, then read lazily, so it is read twice (and never held in memory)."""
    with tempfile.NamedTemporaryFile(prefix=_STDIN_PREFIX, suffix=".jsonl") as spool:
        shutil.copyfileobj(sys.stdin.buffer, spool)
        spool.flush()
        yield Path(spool.name)


def _same_file(output: Path, input_path: Path) -> bool:
    try:
        return output.exists() and output.samefile(input_path)
    except OSError:
        return False
