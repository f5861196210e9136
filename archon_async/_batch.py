"""Running an architecture over many prompts: bounded concurrency, nothing lost, resumable."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import anyio

from ._batch_answer import answer_item
from ._batch_budget import BudgetGate, budget_gate
from ._batch_feed import End, Feed
from ._batch_io import AnswerWriter, BatchItem, prepare_output
from ._batch_outage import DEFAULT_WAIT_S, ProviderOutage, check_wait
from ._circuit import CircuitKey
from ._engine import Engine
from ._exceptions import (
    BatchBudgetExceededError,
    BatchStoppedError,
    BudgetExceededError,
    InvalidInputError,
)
from ._logging import bind_log_context, get_logger, reset_log_context
from ._output_lock import folder_problem, make_folder, output_lock
from ._progress import BatchStats, ProgressReporter
from ._types import CallRecord
from .callpath import Budget
from .callpath._budget import checked_budget

__all__ = ["check_batch_arguments", "count_of", "run_batch"]

log = get_logger(__name__)

#: Prompts a batch starts in one loop turn at most by default (``starts_per_turn``; see
#: `Feed`): one, so that a batch run inside an asyncio service keeps its loop's lag low.
STARTS_PER_TURN = 1
#: The ``batch`` command's default: a process that runs nothing else on its loop trades the
#: loop's lag for fewer turns a prompt, so less CPU a call (bench/RESULTS.md, "Measure 3,
#: ninth pass").
COMMAND_STARTS_PER_TURN = 8
#: Prompts answered wholly from the response cache that a worker may follow at once with
#: its next, in the same loop turn, beyond those starts (see `Feed.take_after_hits`).
HITS_PER_TURN = 8


async def run_batch(
    engine: Engine,
    items: Iterable[BatchItem],
    output: Path | TextIO,
    *,
    total: int,
    concurrency: int = 64,
    retry_errors: bool = True,
    prompt_attempts: int = 2,
    progress: TextIO | None = None,
    progress_interval_s: float | None = None,
    show_progress: bool = True,
    stats: BatchStats | None = None,
    unique_ids: bool = False,
    budget: Budget | None = None,
    on_answer: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    starts_per_turn: int = STARTS_PER_TURN,
    provider_down_wait_s: float = DEFAULT_WAIT_S,
) -> BatchStats:
    """Answer every item, appending one line per finished prompt to ``output``.

    At most ``concurrency`` prompts are in flight at once, so memory stays bounded whatever
    the batch size, and prompts started earlier finish before many new ones start. Every
    item ends as an answer line or an error line. Run again with the same output, the batch
    resumes: finished ids are skipped (error lines are retried with ``retry_errors``).
    While it runs, the output is locked (``OUTPUT.lock``): a second run on it is refused.

    Args:
        engine: an open or closed engine (opened here if needed).
        items: the prompts, read lazily. A bad item, or the iterable's own error, stops
            the batch there: the prompts in flight finish, then that error is raised.
        output: the JSONL answers file, or an open text stream (no resume then).
        total: how many items there are (for progress).
        concurrency: prompts in flight at once.
        retry_errors: rerun prompts whose line in ``output`` is an error.
        prompt_attempts: attempts per prompt when a whole run fails.
        progress: where to show progress (None: stderr); a terminal gets a live bar.
        progress_interval_s: seconds between progress reports.
        show_progress: False shows none.
        stats: counters to update (pass your own to read them after an interruption).
        on_answer: awaited with each line once it is written (a slow one holds the
            workers back: memory stays bounded).
        unique_ids: the caller has checked that no id repeats (``validate_jsonl_input``
            does; benchmark ids are unique), so the batch keeps no set of the ids it has
            seen and its memory does not grow with the batch.
        budget: caps on what this batch spends (checked before each prompt starts).
        starts_per_turn: prompts started in one event-loop turn at most. More starts a turn
            take fewer turns a prompt, so less CPU a call, and make longer turns: the lag
            of everything else on the loop grows (bench/RESULTS.md, "Measure 3, ninth
            pass").
        provider_down_wait_s: how long the batch waits for a provider that is down (its
            model's circuit open, no ``unavailable`` fallback) before it stops. Meanwhile no
            prompt starts and the prompts that failed on it are held, not written; each time
            the circuit lets a trial call through, one prompt goes as the probe, and if the
            model answers the batch goes on (`archon_async._batch_outage`).

    Raises:
        InvalidInputError: bad arguments, an id repeats among the items, the output holds
            another architecture's answers (or simulated ones for a real engine, or real
            ones for a simulated engine) or is not an answers file, or another run is
            writing to it.
        BatchStoppedError: a failure every prompt would meet stopped the batch; the prompts
            in flight finished, and the rerun goes on where it stopped. Its
            ``not_started`` and ``stats`` say what was left and what was done. A provider
            down for longer than ``provider_down_wait_s`` stops it too.
        BatchBudgetExceededError: a spent budget (this batch's, the engine's or its call
            path's: see `Budget`) stopped it; a `BatchStoppedError` and a
            `BudgetExceededError`, whose ``budget`` is the one that ran out.
    """
    check_batch_arguments(concurrency, budget, starts_per_turn)
    if prompt_attempts < 1:
        raise InvalidInputError("prompt_attempts must be at least 1")
    check_wait(provider_down_wait_s)
    fingerprint = f"{engine.architecture.fingerprint()}-s{engine.seed}"
    stats = stats or BatchStats(total=total)
    # Every line says whether a model wrote it: a simulated answer is never taken for a real one.
    stamp: dict[str, str | bool] = {
        "architecture": engine.architecture.name,
        "fingerprint": fingerprint,
        "simulated": engine.simulated,
    }
    stop = _Stop()
    gate = budget_gate(engine, budget)
    reporter: ProgressReporter | None = None
    opened_here = not engine.is_open
    with _claimed(output) as finished_ids:
        finished = finished_ids(retry_errors, fingerprint, engine.simulated)
        try:
            await engine.open()
            with AnswerWriter(output) as writer:
                # Only now, with everything open: an error opening it (a missing key, an
                # unreachable Redis, an unwritable output) is never preceded by progress.
                if show_progress:
                    reporter = ProgressReporter(
                        stats, stream=progress, interval_s=progress_interval_s
                    )
                pending = _pending(items, finished, stats, stop, check_ids=not unique_ids)
                worker = _Worker(engine, writer, stats, prompt_attempts, stamp, stop)
                worker.on_answer, worker.budget, worker.gate = on_answer, budget, gate
                worker.outage = ProviderOutage(
                    engine.dispatcher.circuit_reopens_in,
                    provider_down_wait_s,
                    stopped=lambda: stop.reason is not None,
                )
                feed = Feed(pending, starts_per_turn, HITS_PER_TURN)
                # No more workers than prompts (a task each): --concurrency 1000000 on 3
                # prompts made a million tasks, 4.7 GB and minutes of a starved loop.
                workers = min(concurrency, total) if total > 0 else concurrency
                await _run_workers(worker, feed, workers, reporter)
        finally:
            if reporter is not None:
                reporter.close()  # the final state, even when interrupted
            if opened_here:
                await engine.aclose()
    log.info("batch_finished", **{k: v for k, v in stats.summary().items() if k != "per_model"})
    if stop.input_error is not None:
        stop.input_error.add_note(_input_stop_note(stats, output))
        raise stop.input_error
    if stop.reason is not None:
        raise _stopped(stop, stats, output, gate)
    return stats


async def _run_workers(
    worker: _Worker, feed: Feed, concurrency: int, reporter: ProgressReporter | None
) -> None:
    """``concurrency`` tasks running ``worker`` on the feed's prompts until it ends, with
    the progress reporter beside them until they are done."""
    async with anyio.create_task_group() as outer:
        if reporter is not None:
            outer.start_soon(reporter.run)
        async with anyio.create_task_group() as workers:
            for _ in range(concurrency):
                workers.start_soon(worker.run, feed)
        outer.cancel_scope.cancel()  # stops the progress reporter


def count_of(number: int, noun: str) -> str:
    """``"1 prompt"``, ``"3 prompts"``."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _input_stop_note(stats: BatchStats, output: Path | TextIO) -> str:
    """What a batch stopped by a bad item did: the prompts before it are kept."""
    where = output if isinstance(output, Path) else "the output"
    return (
        f"the batch stopped at this item: it answered {count_of(stats.answered, 'prompt')} "
        f"and recorded {count_of(stats.failed, 'failure')} in {where} (the prompts in flight "
        "finished); fix the input and run it again: finished prompts are not asked again"
    )


def _stopped(
    stop: _Stop, stats: BatchStats, output: Path | TextIO, gate: BudgetGate
) -> BatchStoppedError:
    """The error of a stopped batch: what stopped it, what finished, what did not start."""
    left = max(stats.total - stats.skipped - stats.answered - stats.failed, 0)
    where = output if isinstance(output, Path) else "the output"
    done = (
        f"this run answered {count_of(stats.answered, 'prompt')} and recorded "
        f"{count_of(stats.failed, 'failure')} in {where}; {count_of(left, 'prompt')} did "
        "not start"
    )
    error: BatchStoppedError
    if stop.budget is None:
        reason = stop.reason or ""
        then = (
            "once it answers, run the same command again (the same output, and cache if "
            "any) to go on where it stopped"
            if stop.down is not None
            else "fix the cause and run the same command again to go on where it stopped"
        )
        error = BatchStoppedError(f"the batch stopped: {stop.reason}; {done}; {then}")
    else:
        # Said now, not when it was reached: the prompts in flight have spent more since.
        reason = gate.reason(stop.budget)
        error = BatchBudgetExceededError(
            f"the batch stopped on its budget: {reason}; no prompt started after that and "
            f"the prompts in flight finished; {done}; a run with room in its budget (a new "
            "Budget: the command's own starts from zero) answers them, finished prompts "
            "are not asked again"
        )
        error.budget = stop.budget
    error.stats, error.not_started = stats, left
    error.reason = reason
    if stop.down is not None:
        error.provider_down = f"{stop.down[0]} {stop.down[2]}"
    return error


@contextmanager
def _claimed(output: Path | TextIO) -> Iterator[Callable[[bool, str, bool], set[str]]]:
    """Hold the output's lock for the batch; yields the function that readies the file and
    says which ids are finished (a stream has none)."""
    if not isinstance(output, Path):
        yield lambda retry_errors, fingerprint, simulated: set()
        return
    problem = folder_problem(output.parent) or make_folder(output.parent)
    if problem is not None:
        raise InvalidInputError(f"{output}: the output cannot be written there: {problem}")
    with output_lock(output):
        yield lambda retry_errors, fingerprint, simulated: prepare_output(
            output, retry_errors=retry_errors, fingerprint=fingerprint, simulated=simulated
        )


class _Stop:
    """Set by the first failure that every later prompt would meet too, or a budget."""

    __slots__ = ("budget", "down", "input_error", "reason")

    def __init__(self) -> None:
        self.reason: str | None = None
        self.down: CircuitKey | None = None  # the circuit whose provider stayed down
        self.budget: Budget | None = None  # the budget that stopped the batch
        self.input_error: Exception | None = None  # a bad item met as the batch went


def _pending(
    items: Iterable[BatchItem],
    finished: set[str],
    stats: BatchStats,
    stop: _Stop,
    *,
    check_ids: bool,
) -> Iterator[BatchItem]:
    """The items still to answer, in input order, until the batch stops. An item that is
    bad (or the iterable's own error, read as the batch goes) ends them: it is kept in
    ``stop.input_error`` for `run_batch` to raise once the prompts in flight finish, not
    raised in a worker, where the task groups would wrap it and cancel those prompts."""
    seen: set[str] = set()
    try:
        for item in items:
            if stop.reason is not None:
                return  # left for the rerun
            if check_ids:
                if item.id in seen:
                    raise InvalidInputError(f"id {item.id!r} appears twice in the batch")
                seen.add(item.id)
            if item.id in finished:
                stats.skipped += 1
                continue
            yield item
    except Exception as exc:  # raised again by run_batch, unchanged
        stop.input_error = exc


class _Worker:
    """Answers prompts one after another until the feed ends or the batch stops: each of
    the batch's worker tasks runs `run` (the object holds only what they share)."""

    def __init__(
        self,
        engine: Engine,
        writer: AnswerWriter,
        stats: BatchStats,
        attempts: int,
        stamp: Mapping[str, str | bool],
        stop: _Stop,
    ) -> None:
        self._engine = engine
        self._writer = writer
        self._stats = stats
        self._attempts = attempts
        self._stamp = stamp
        self._stop = stop
        self.budget: Budget | None = None
        self.gate: BudgetGate | None = None
        self.on_answer: Callable[[dict[str, Any]], Awaitable[None]] | None = None
        self.outage: ProviderOutage | None = None

    async def run(self, feed: Feed) -> None:
        cached = False  # the last prompt was answered wholly from the cache
        # The runs' log context, bound once for all of this worker's prompts: each run
        # finds it bound and binds nothing (`bind_log_context`; ~3 us a prompt).
        bound = bind_log_context(architecture=self._engine.architecture.name)
        try:
            while True:
                item = feed.take_after_hits() if cached else None
                if item is None:
                    item = feed.take_nowait()
                if item is None:  # this loop turn's starts are spent
                    item = await feed.take()
                if isinstance(item, End):
                    return
                cached = await self._answer(item)
        finally:
            reset_log_context(bound)

    async def _answer(self, item: BatchItem) -> bool:
        """Answer and write one prompt; whether every call it made was a cache hit. While
        its provider is down the prompt is held (`ProviderOutage`), and tried again once
        the provider is back. (One coroutine: `answer_item` is awaited here, not through a
        helper, as every loop turn of a call resumes each level; bench measure 3.)"""
        outage, stats = self.outage, self._stats
        while True:
            probe = False
            if outage:  # its provider is down: held until it is back, or the batch stops
                held = await outage.wait()
                if held == "stop" and self._stop.reason is None:
                    self._stop.reason, self._stop.down = outage.reason(), outage.down
                probe = held == "probe"
            if self._stop.reason is not None:
                return False  # left for the rerun
            gate = self.gate
            stats.in_flight += 1
            made: list[CallRecord] = []  # this prompt's calls, as they end
            down: list[CircuitKey] | None = None if outage is None else []
            try:
                if gate:
                    await gate.admit(made, runs=len(item.turns) or 1)
                    if self._stop.reason is not None:
                        return False  # the batch stopped while this prompt waited for room
                record = await answer_item(
                    self._engine, item, attempts=self._attempts, stats=stats,
                    budget=self.budget, calls=made, down=down,
                )  # fmt: skip
            except BudgetExceededError as exc:
                # No line: the rerun (with room in its budget) answers it.
                if self._stop.reason is None:
                    self._stop.reason, self._stop.budget = str(exc), exc.budget
                return False
            finally:
                stats.in_flight -= 1
                if gate:
                    gate.release(made)
                if probe and outage is not None:
                    outage.probe_ended()
            if not down or outage is None:
                break
            outage.noticed(down[0])  # not written: tried again once the provider is back
        self._write(record)
        if self.on_answer is not None:
            self._writer.flush()  # the consumer is handed a line already in the file
            await self.on_answer(record)
        return bool(made) and all(call.cached for call in made)

    def _write(self, record: dict[str, Any]) -> None:
        """Write a prompt's line (`answer_item`'s own dict, stamped in place, not copied)
        and count it."""
        record.update(self._stamp)
        self._writer.write(record)
        if "error" not in record:
            self._stats.answered += 1
        else:
            self._stats.failed += 1
            if record.get("fatal"):
                self._stop.reason = self._stop.reason or record["error"]


def check_batch_arguments(
    concurrency: object, budget: object, starts_per_turn: object = STARTS_PER_TURN
) -> None:
    """Refuse a batch's ``concurrency`` or ``starts_per_turn`` that is not a whole number
    of at least 1 (a bool, a float or a string included) and a ``budget`` that is not a
    `Budget` or None, before any prompt starts.

    Raises:
        InvalidInputError: naming the argument and what to pass.
    """
    _check_count(concurrency, "concurrency", "prompts in flight at once")
    _check_count(starts_per_turn, "starts_per_turn", "prompts started in one loop turn")
    checked_budget(budget, "the batch's budget=")


def _check_count(value: object, name: str, meaning: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(
            f"{name} must be a whole number of at least 1 ({meaning}), not {value!r}"
        )
