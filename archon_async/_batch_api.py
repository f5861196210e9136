"""`Engine.batch`: the CLI's batch runner for Python callers, as an async iterator.

``async for line in engine.batch(items, output="answers.jsonl")`` gets what
``archon-async batch`` gets: bounded memory, every prompt ending as one line, resume from the
output file, a lock on it; each answer line is yielded as soon as it is written.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterable, Iterator, Mapping, Sized
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ._batch import STARTS_PER_TURN, check_batch_arguments, run_batch
from ._batch_io import BatchItem, _item_from_record, iter_jsonl_items, validate_jsonl_input
from ._batch_outage import DEFAULT_WAIT_S, check_wait
from ._exceptions import InvalidInputError

if TYPE_CHECKING:
    from ._engine import Engine
    from .callpath import Budget

__all__ = ["check_items", "run_batch_iter"]

_DONE = object()


async def run_batch_iter(
    engine: Engine,
    items: Iterable[BatchItem | Mapping[str, Any]] | str | Path,
    *,
    output: Path,
    concurrency: int = 64,
    retry_errors: bool = True,
    progress: TextIO | None = None,
    budget: Budget | None = None,
    starts_per_turn: int = STARTS_PER_TURN,
    provider_down_wait_s: float = DEFAULT_WAIT_S,
) -> AsyncGenerator[dict[str, Any], None]:
    """Run a batch and yield each answer (or error) line once it is in ``output``.

    Args:
        engine: the engine (opened here if needed, and then closed at the end).
        items: a JSONL prompts file (checked whole first, as the CLI does), or prompts as
            `BatchItem`s or dicts ``{"id": ..., "prompt": "..."}`` / ``{"id": ...,
            "messages": [...]}`` (read lazily, each checked as it comes).
        output: the answers file; run again with the same one to resume.
        concurrency: prompts in flight at once (at most that many lines wait unread).
        retry_errors: on resume, run again the prompts whose line is an error.
        progress: a stream to show progress on (none by default: a library prints nothing).
        budget: caps on what this batch spends, checked before each prompt starts.
        starts_per_turn: prompts started in one event-loop turn at most (see `run_batch`).
        provider_down_wait_s: how long to wait for a provider that is down before the
            batch stops (see `run_batch`).

    Raises:
        InvalidInputError: an item is malformed, ids repeat, or the output is unusable.
        BatchStoppedError: a failure every prompt would meet stopped the batch.
        BatchBudgetExceededError: a budget (the engine's or its call path's) stopped it;
            also a `BudgetExceededError` (see `run_batch`).
    """
    check_batch_arguments(concurrency, budget, starts_per_turn)  # before the queue is sized
    check_wait(provider_down_wait_s)
    check_items(items)
    if isinstance(items, str | Path):
        path = Path(items)
        total = validate_jsonl_input(path)
        source: Iterable[BatchItem] = iter_jsonl_items(path)
        unique = True
    else:
        total = len(items) if isinstance(items, Sized) else 0
        source, unique = _as_items(items), False
    # A bounded queue: a consumer that reads slowly holds the workers back.
    lines: asyncio.Queue[Any] = asyncio.Queue(maxsize=concurrency)

    async def produce() -> None:
        try:
            await run_batch(
                engine,
                source,
                output,
                total=total,
                concurrency=concurrency,
                retry_errors=retry_errors,
                progress=progress,
                show_progress=progress is not None,
                unique_ids=unique,
                budget=budget,
                on_answer=lines.put,
                starts_per_turn=starts_per_turn,
                provider_down_wait_s=provider_down_wait_s,
            )
        except Exception:
            await lines.put(_DONE)  # the consumer stops reading, then sees the error
            raise
        await lines.put(_DONE)

    # A task, not a task group: a group's cancel scope cannot span the ``yield``s of an
    # async generator; leaving the loop early cancels the batch in ``finally``.
    run = asyncio.create_task(produce())
    try:
        while (line := await lines.get()) is not _DONE:
            yield line
        await run  # its error, if it failed
    finally:
        if not run.done():
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run


def check_items(items: object) -> None:
    """Refuse a batch's ``items`` that is neither a prompts file's path nor an iterable of
    prompts, before any call: a dict (one prompt, or ids mapped to prompts) was iterated
    over its keys and failed as "item 1: each line must be a JSON object".

    Raises:
        InvalidInputError: naming the argument, what it got and what it takes.
    """
    if isinstance(items, str | Path):
        return
    if isinstance(items, Mapping):
        got = (
            "a dict: one prompt goes in a list, [{...}], and a dict of ids to prompts as "
            '[{"id": id, "prompt": prompt} for id, prompt in items.items()]'
        )
    elif isinstance(items, bytes | bytearray) or not isinstance(items, Iterable):
        got = f"{type(items).__name__} {items!r}"
    else:
        return
    raise InvalidInputError(
        "the batch's items (the prompts) must be a JSONL file's path, or an iterable (a "
        'list, a generator) of {"id", "prompt"} or {"id", "messages"} dicts or BatchItems; '
        f"got {got}"
    )


def _as_items(items: Iterable[BatchItem | Mapping[str, Any]]) -> Iterator[BatchItem]:
    for number, item in enumerate(items, start=1):
        yield item if isinstance(item, BatchItem) else _item_from_record(item, "item", number)
