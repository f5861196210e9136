"""Running an architecture over many prompts: bounded concurrency, nothing lost, resumable."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

import anyio
import structlog
from anyio.abc import ObjectReceiveStream

from ._batch_io import AnswerWriter, BatchItem, prepare_output
from ._engine import Engine
from ._exceptions import ArchonError, InvalidInputError
from ._progress import BatchStats, report_progress
from ._trace import Result
from ._types import Message

__all__ = ["answer_item", "describe_error", "run_batch"]

log = structlog.get_logger(__name__)


async def run_batch(
    engine: Engine,
    items: Iterable[BatchItem],
    output: Path,
    *,
    total: int,
    concurrency: int = 64,
    retry_errors: bool = True,
    prompt_attempts: int = 2,
    progress: TextIO | None = None,
    progress_interval_s: float | None = None,
) -> BatchStats:
    """Answer every item, appending one line per finished prompt to ``output``.

    At most ``concurrency`` prompts are in flight at once, so memory stays bounded whatever
    the batch size, and prompts started earlier finish before many new ones start. Every
    item ends as an answer line or an error line. Run again with the same output, the batch
    resumes: finished ids are skipped (error lines are retried with ``retry_errors``).

    Args:
        engine: an open or closed engine (opened here if needed).
        items: the prompts, read lazily.
        output: the JSONL answers file.
        total: how many items there are (for progress).
        concurrency: prompts in flight at once.
        retry_errors: rerun prompts whose line in ``output`` is an error.
        prompt_attempts: attempts per prompt when a whole run fails.
        progress: where to show progress (None: stderr); a terminal gets a live line.

    Raises:
        InvalidInputError: bad arguments, or an id repeats among the items.
    """
    if concurrency < 1:
        raise InvalidInputError("concurrency must be at least 1")
    if prompt_attempts < 1:
        raise InvalidInputError("prompt_attempts must be at least 1")
    finished = prepare_output(output, retry_errors=retry_errors)
    stats = BatchStats(total=total)
    send, receive = anyio.create_memory_object_stream[BatchItem](0)
    opened_here = not engine.is_open
    try:
        await engine.open()
        with AnswerWriter(output) as writer:
            async with anyio.create_task_group() as outer:
                outer.start_soon(_report, stats, progress, progress_interval_s)
                async with anyio.create_task_group() as workers, receive:
                    workers.start_soon(_feed, items, finished, send, stats)
                    for _ in range(concurrency):
                        workers.start_soon(
                            _work, engine, receive.clone(), writer, stats, prompt_attempts
                        )
                outer.cancel_scope.cancel()  # stops the progress reporter
    finally:
        if opened_here:
            await engine.aclose()
    log.info("batch_finished", **{k: v for k, v in stats.summary().items() if k != "per_model"})
    return stats


async def _report(stats: BatchStats, stream: TextIO | None, interval: float | None) -> None:
    await report_progress(stats, stream=stream, interval_s=interval)


async def _feed(
    items: Iterable[BatchItem],
    finished: set[str],
    send: Any,
    stats: BatchStats,
) -> None:
    seen: set[str] = set()
    async with send:
        for item in items:
            if item.id in seen:
                raise InvalidInputError(f"id {item.id!r} appears twice in the batch")
            seen.add(item.id)
            if item.id in finished:
                stats.skipped += 1
                continue
            await send.send(item)


async def _work(
    engine: Engine,
    receive: ObjectReceiveStream[BatchItem],
    writer: AnswerWriter,
    stats: BatchStats,
    attempts: int,
) -> None:
    async with receive:
        async for item in receive:
            stats.in_flight += 1
            try:
                record = await answer_item(engine, item, attempts=attempts, stats=stats)
            finally:
                stats.in_flight -= 1
            writer.write(record)
            if "error" in record:
                stats.failed += 1
            else:
                stats.answered += 1


async def answer_item(
    engine: Engine, item: BatchItem, *, attempts: int = 1, stats: BatchStats | None = None
) -> dict[str, Any]:
    """Answer one item; never raises for a provider or model failure: the line says it."""
    started = time.perf_counter()
    error: str | None = None
    for attempt in range(1, attempts + 1):
        try:
            answers, results = await _answer_turns(engine, item)
        except (ArchonError, ExceptionGroup) as exc:
            error = describe_error(exc)
        else:
            calls = [call for result in results for call in result.trace.calls()]
            if stats is not None:
                stats.add_calls(calls)
            return {
                "id": item.id,
                "answer": answers[-1],
                **({"turns": answers} if item.turns else {}),
                "calls": len(calls),
                "input_tokens": sum(call.input_tokens for call in calls),
                "output_tokens": sum(call.output_tokens for call in calls),
                "latency_s": round(time.perf_counter() - started, 4),
                "attempts": attempt,
                **({"metadata": dict(item.metadata)} if item.metadata else {}),
            }
        log.warning("prompt_failed", id=item.id, attempt=attempt, error=error)
    return {
        "id": item.id,
        "error": error,
        "latency_s": round(time.perf_counter() - started, 4),
        "attempts": attempts,
        **({"metadata": dict(item.metadata)} if item.metadata else {}),
    }


def describe_error(exc: BaseException) -> str:
    """A one-line account of a failure: the type and message, and a group's first leaf."""
    if isinstance(exc, BaseExceptionGroup):
        leaf = exc.exceptions[0]
        more = f" (and {len(exc.exceptions) - 1} more)" if len(exc.exceptions) > 1 else ""
        return f"{exc.message}: {describe_error(leaf)}{more}"
    return f"{type(exc).__name__}: {exc}"


async def _answer_turns(engine: Engine, item: BatchItem) -> tuple[list[str], list[Result]]:
    if not item.turns:
        result = await engine.generate(item.messages)
        return [result.text], [result]
    conversation: list[Mapping[str, Any]] = list(item.messages)
    answers, results = [], []
    for turn in item.turns:
        conversation.append(Message(role="user", content=turn))
        result = await engine.generate(conversation)
        conversation.append(Message(role="assistant", content=result.text))
        answers.append(result.text)
        results.append(result)
    return answers, results
