"""``archon-async judge``: grade a batch's answers with an LLM judge, itself an architecture.

MT-Bench answers get a 1-10 rating per turn (FastChat's single-answer grading); Arena-Hard
and AlpacaEval answers are compared with a baseline's, twice with the order swapped (as
arena-hard does, against position bias). The judge calls run as a batch, so they are
resumable and share the engine's limits; their replies are kept in a JSONL file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson

from ._batch import run_batch
from ._batch_io import BatchItem
from ._cli_common import (
    TERMINATED,
    UsageError,
    check_cache_path,
    check_output_path,
    check_summary_path,
    positive_int,
    report_summary,
    run_async,
)
from ._cli_simulated import announce_simulated, refuse_simulated_answers
from ._defaults import DEFAULT_JUDGE
from ._engine import Engine
from ._exceptions import BatchStoppedError, ConfigError, InvalidInputError, OutputParseError
from ._progress import BatchStats
from .callpath._journal import SpendJournal, journal_beside, spent_all_runs

__all__ = ["add_judge_command"]


def add_judge_command(commands: Any) -> None:
    """Add the ``judge`` sub-command to the CLI."""
    from .cli import _add_engine_options

    judge = commands.add_parser(
        "judge",
        help="grade answers of a judged benchmark (mt_bench, arena_hard, alpaca_eval)",
    )
    judge.add_argument(
        "config",
        nargs="?",
        type=Path,
        help="the judge architecture (default: one gpt-4o call, temperature 0, which needs "
        "OPENAI_API_KEY; --simulate grades on the simulated provider instead)",
    )
    judge.add_argument("--benchmark", required=True)
    judge.add_argument("--answers", required=True, type=Path, help="the batch output to grade")
    judge.add_argument(
        "--baseline",
        type=Path,
        help="the baseline's answers, needed by arena_hard: a batch output, or the official "
        "baseline answers (arena-hard-auto's model_answer JSONL, e.g. gpt-4-0314.jsonl, in "
        "either format; AlpacaEval's model_outputs.json). AlpacaEval defaults to the "
        "baseline outputs in its data file",
    )
    judge.add_argument("--data", type=Path, help="the benchmark's data, where it is not shipped")
    judge.add_argument("--output", type=Path, help="judge replies JSONL (resumable)")
    judge.add_argument("--concurrency", type=positive_int, default=32)
    judge.add_argument("--summary", type=Path, help="also write the summary JSON here")
    _add_engine_options(judge)
    judge.set_defaults(handler=_judge)


def _judge(args: argparse.Namespace) -> int:
    from .benchmarks import get_benchmark, judge_kind
    from .cli import engine_from_args

    benchmark = get_benchmark(args.benchmark, path=args.data)
    kind = judge_kind(benchmark)
    answers = _read_answers(args.answers)
    output = args.output or args.answers.with_name(f"{args.answers.stem}.judgements.jsonl")
    # Before the engine, which makes the cache file.
    check_cache_path(args.cache, Path(output), answers=args.answers, summary=args.summary)
    # The judge is real unless --simulate says otherwise: a rating is a model's or is marked.
    engine = engine_from_args(args.config, args, default=DEFAULT_JUDGE, simulate_default=False)
    if not args.estimate:
        announce_simulated(engine, command="judge", chosen=True)
        refuse_simulated_answers(answers, args.answers, engine)
    requests, plan = _requests_for(benchmark, kind, answers, args)
    if args.estimate:
        from ._cli_callpath import item_prompts, print_estimate

        return print_estimate(engine, item_prompts(requests), args)

    _check_output(Path(output), args)
    stats = BatchStats(total=len(requests))
    # Each request recorded before it is sent: a killed judge's calls count on the resume.
    engine.callpath.journal = journal = journal_beside(Path(output))
    summary: dict[str, Any] = {"simulated": engine.simulated, "judge_models": _judge_models(engine)}
    try:
        _run_judge(engine, requests, output, stats, args.concurrency)
    except (KeyboardInterrupt, BatchStoppedError) as exc:
        return _report_stopped(exc, summary, stats, journal, output, args)
    summary.update(_summarise(output, plan, kind))
    if failed := _failed_answers(args.answers, answers):
        # Not graded, so not in the mean: said, with how to have them answered.
        summary["answers_failed"] = {
            "count": len(failed),
            "ids": failed[:20],
            "fix": f"run the batch again on {args.answers} (its error lines are retried), "
            "then this judge command",
        }
    summary.update(_spend(stats))
    summary.update({"benchmark": benchmark.name, "judgements": str(output)})
    summary.update(spent_all_runs(journal))
    # On standard error with every other summary (standard output is for answers).
    report_summary(summary, args.summary)
    return 0


def _read_answers(path: Path) -> dict[str, Any]:
    """The batch's answers by question id (`read_answers`), or a clear error when there is
    no file at ``path`` (not a FileNotFoundError or IsADirectoryError traceback)."""
    from .benchmarks import read_answers

    if not path.is_file():
        raise InvalidInputError(
            f"{path}: no answers file there: give the file a batch wrote (its --output)"
        )
    return read_answers(path)


def _requests_for(
    benchmark: Any, kind: str, answers: dict[str, Any], args: argparse.Namespace
) -> tuple[list[BatchItem], dict[str, tuple[str, bool]]]:
    """The judge's requests for the answered questions (`_judge_requests`), after checking
    that some answer matches a question and that a pairwise judge has its baseline."""
    from .benchmarks import read_baseline

    questions = benchmark.items()
    baseline = read_baseline(args.baseline, questions) if args.baseline else {}
    items = [item for item in questions if item.id in answers]
    if not items:
        raise InvalidInputError(f"{args.answers}: no answer matches a {benchmark.name} question")
    if kind == "pairwise":
        _check_baseline(benchmark.name, items, baseline, args.baseline)
    return _judge_requests(benchmark, kind, items, answers, baseline)


def _check_output(output: Path, args: argparse.Namespace) -> None:
    """Refuse a ``--summary`` or ``--output`` the judge cannot write, or one that would
    overwrite the answers it reads, before any call."""
    check_summary_path(args.summary, answers=args.answers, output=output)
    check_output_path(output, "--output")
    if output.exists() and output.samefile(args.answers):
        raise UsageError(
            f"--output {output} is the answers file: give another --output (by default "
            f"{args.answers.stem}.judgements.jsonl beside it)"
        )


def _run_judge(
    engine: Engine, requests: list[BatchItem], output: Path, stats: BatchStats, concurrency: int
) -> None:
    """The judge's requests as a batch into ``output``.

    Raises:
        ConfigError: the judge's configuration (a missing key, say), its message saying
            that the judge is a real model unless ``--simulate`` is given.
    """

    async def go() -> Any:
        async with engine:  # opening checks the judge's keys, before any call
            return await run_batch(
                engine,
                requests,
                output,
                total=len(requests),
                concurrency=concurrency,
                stats=stats,
            )

    try:
        run_async(go)
    except ConfigError as exc:
        judge = ", ".join(_judge_models(engine))
        exc.cli_message = (
            f"the judge ({judge}) is a real model unless --simulate is given: "
            f"{exc.cli_message or exc}"
        )
        raise


def _failed_answers(path: Path, answers: dict[str, Any]) -> list[str]:
    """The ids whose line in the batch output is an error, with no answer line: the judge
    cannot grade them (`read_answers` leaves them out)."""
    failed: set[str] = set()
    for line in path.read_bytes().splitlines():
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a line cut off by a kill
        if isinstance(record, dict) and "error" in record and "id" in record:
            failed.add(str(record["id"]))
    return sorted(failed - answers.keys())


def _judge_requests(
    benchmark: Any,
    kind: str,
    items: list[Any],
    answers: dict[str, Any],
    baseline: dict[str, Any],
) -> tuple[list[BatchItem], dict[str, tuple[str, bool]]]:
    """The judge's requests, and for each request id the item it grades and if swapped.

    A rating benchmark gets one request per turn; a pairwise one two per item, the answer
    first and then the baseline first.
    """
    from .benchmarks import build_judge_messages

    requests: list[BatchItem] = []
    plan: dict[str, tuple[str, bool]] = {}  # request id -> (item id, swapped)
    for item in items:
        record = answers[item.id]
        if kind == "rating":
            replies = record.get("turns") or [record["answer"]]
            for turn in range(1, len(replies) + 1):
                messages = build_judge_messages(benchmark, item, replies, turn=turn)
                requests.append(BatchItem(id=f"{item.id}#turn{turn}", messages=messages))
                plan[f"{item.id}#turn{turn}"] = (item.id, False)
            continue
        against = baseline.get(item.id)  # None: the data file's own (AlpacaEval)
        for swap in (False, True):
            messages = build_judge_messages(
                benchmark, item, str(record["answer"]), baseline=against, swap=swap
            )
            request_id = f"{item.id}#{'swapped' if swap else 'baseline-first'}"
            requests.append(BatchItem(id=request_id, messages=messages))
            plan[request_id] = (item.id, swap)
    return requests, plan


def _report_stopped(
    exc: BaseException,
    summary: dict[str, Any],
    stats: BatchStats,
    journal: SpendJournal,
    output: Path,
    args: argparse.Namespace,
) -> int:
    """Report a judge stopped by a budget, Ctrl-C or a failure every request would meet.

    The summary still says what was judged and spent, and the same command goes on.
    Returns the exit status: 1 when stopped, 130 or 143 when interrupted.
    """
    from ._cli_callpath import stopped_fields

    stopped = str(exc) if isinstance(exc, BatchStoppedError) else "interrupted"
    summary.update(_spend(stats))
    summary.update({"judgements": str(output), "stopped": stopped})
    summary.update(spent_all_runs(journal))
    if isinstance(exc, BatchStoppedError):
        summary.update(stopped_fields(exc, args))  # what finished, the command to go on
    report_summary(summary, args.summary)
    if isinstance(exc, BatchStoppedError):
        return 1
    return 143 if TERMINATED.is_set() else 130


def _spend(stats: BatchStats) -> dict[str, Any]:
    """The judge's calls, cache hits and cost, as a batch summary gives them."""
    keys = ("calls", "cache_hits", "retries", "estimated_cost_usd", "unpriced_models", "per_model")
    figures = stats.summary()
    return {key: figures[key] for key in keys}


def _judge_models(engine: Engine) -> list[str]:
    return sorted({spec.model for layer in engine.architecture.layers for spec in layer})


def _check_baseline(
    name: str, items: list[Any], baseline: dict[str, str], path: Path | None
) -> None:
    """Refuse, before any judge call, to judge answers that have no baseline to face."""
    missing = [item.id for item in items if item.id not in baseline and not _has_own(item)]
    if not missing:
        return
    if path is None:
        raise InvalidInputError(
            f"{name} compares each answer with a baseline's answer: pass --baseline PATH, "
            "a batch output of the baseline, or the official baseline answers (for "
            "arena_hard, arena-hard-auto's model_answer/gpt-4-0314.jsonl)"
        )
    raise InvalidInputError(
        f"--baseline {path} has no answer for {len(missing)} of {len(items)} questions "
        f"(e.g. {missing[0]}); pass a --baseline that answers every question"
    )


def _has_own(item: Any) -> bool:
    # AlpacaEval's data file carries the baseline's output as the item's reference.
    return isinstance(item.reference, str)


def _summarise(output: Path, plan: dict[str, tuple[str, bool]], kind: Any) -> dict[str, Any]:
    from .benchmarks import parse_judgement

    scores: list[float] = []
    unparsed, failed = 0, 0
    for line in output.read_bytes().splitlines():
        record = orjson.loads(line)
        if record.get("id") not in plan:
            continue
        if "answer" not in record:
            failed += 1
            continue
        _, swap = plan[record["id"]]
        try:
            scores.append(parse_judgement(record["answer"], kind=kind, swap=swap).model_score)
        except OutputParseError:
            unparsed += 1
    mean = sum(scores) / len(scores) if scores else None
    label = "mean_rating" if kind == "rating" else "win_rate_vs_baseline"
    return {label: mean, "graded": len(scores), "unparsed": unparsed, "failed": failed}
