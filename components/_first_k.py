"""Early stop for ``first_k``: the first k passing candidates, in candidate order.

Archon's verifier and unit test evaluator judge candidates one after another and stop at
the k-th pass (``components/Verifier.py``, ``components/Unit_Test_Evaluator.py``). Judging
every candidate at once gives the same selection at the latency of one judgement, but on a
100-sample layer it makes up to 100 judgements where Archon may make a handful.
`scan_first_k` sits between the two: it judges candidates in candidate order through a
window of concurrent judgements and cancels the rest as soon as the first k passes in
candidate order are known, so the selection is Archon's and the calls beyond Archon's are
at most one window's worth.

The window adapts to how often candidates pass. It starts at the number of passes still
needed (k, so ``first_pass`` starts as Archon's sequential scan) and widens to about
``needed / pass_rate`` as failures come in, never past ``max_window``. The pass rate starts
from three optimistic passes, so under ``first_pass`` the window grows by one for every
three failures seen. On simulated 100-candidate scans (bench/first_k_window.py, figures in
bench/RESULTS.md) a window of 8 made 1.00-1.16 times Archon's judgements and took 0.4-0.8
of its time when few candidates pass. The window slides over candidate
order: nothing starts a window or more past the first candidate not yet judged.
``max_window = 1`` is Archon's sequential scan exactly.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio

from archon_async.core import ComponentContext

__all__ = ["DEFAULT_FIRST_K_WINDOW", "FirstKScan", "record_scan", "scan_first_k"]

T = TypeVar("T")

#: The most candidates judged at once under ``first_k`` when ``first_k_window`` is unset.
DEFAULT_FIRST_K_WINDOW = 8


@dataclass
class FirstKScan(Generic[T]):
    """What a scan found.

    Attributes:
        results: the judgement of every candidate judged to the end, by candidate index.
        selected: the first k passing candidates in candidate order, or None when fewer
            than k passed (then every candidate was judged).
        cancelled: candidates whose judgement was started, then cancelled as not needed.
        skipped: candidates never judged.
    """

    results: dict[int, T] = field(default_factory=dict)
    selected: list[int] | None = None
    cancelled: list[int] = field(default_factory=list)
    skipped: int = 0


def _window(needed: int, passes: int, judged: int, max_window: int) -> int:
    """How many judgements may be in flight: about what ``needed`` more passes take."""
    if needed <= 0:
        return 0
    # Three optimistic passes: the first window is `needed`, and a few failures widen it
    # slowly, so that candidates which mostly pass cost few calls beyond Archon's.
    rate = (passes + 3) / (judged + 3)
    return max(1, min(max_window, math.floor(needed / rate)))


def _decided(passing: list[int], results: Mapping[int, object], k: int) -> list[int] | None:
    """The first k passing indices once every candidate before the k-th one is judged."""
    if len(passing) < k:
        return None
    chosen = sorted(passing)[:k]
    if all(index in results for index in range(chosen[-1])):
        return chosen
    return None


class _Scanner(Generic[T]):
    """The state of one scan: what is in flight, what was judged, what passed."""

    def __init__(self, count: int, passed: Callable[[T], bool], k: int, max_window: int) -> None:
        self.count, self.passed, self.k, self.max_window = count, passed, k, max_window
        self.scan: FirstKScan[T] = FirstKScan()
        self.scopes: dict[int, anyio.CancelScope] = {}  # judgements in flight
        self.passing: list[int] = []
        self.next_index = 0

    def to_start(self) -> list[int]:
        """The candidates to start now. The window slides over candidate order rather than
        counting calls in flight: nothing starts a window or more past the first candidate
        not yet judged, so the calls beyond Archon's stay under one window even when later
        judgements finish first."""
        window = _window(
            self.k - len(self.passing), len(self.passing), len(self.scan.results), self.max_window
        )
        limit = min(self.count, min(self.scopes, default=self.next_index) + window)
        started = list(range(self.next_index, max(limit, self.next_index)))
        self.next_index += len(started)
        return started

    def settle(self, index: int, result: T) -> None:
        """Record a finished judgement (one cancelled too late counts as made)."""
        self.scopes.pop(index, None)
        if index in self.scan.cancelled:
            self.scan.cancelled.remove(index)
        self.scan.results[index] = result
        if self.passed(result):
            self.passing.append(index)
        if len(self.passing) >= self.k:
            # Nothing after the k-th pass so far can be chosen any more.
            last = sorted(self.passing)[self.k - 1]
            self.cancel([i for i in self.scopes if i > last])
        self.scan.selected = _decided(self.passing, self.scan.results, self.k)

    def cancel(self, indices: list[int]) -> None:
        for index in indices:
            self.scopes.pop(index).cancel()
            self.scan.cancelled.append(index)


async def scan_first_k(
    count: int,
    judge: Callable[[int], Awaitable[T]],
    passed: Callable[[T], bool],
    k: int,
    *,
    max_window: int = DEFAULT_FIRST_K_WINDOW,
) -> FirstKScan[T]:
    """Judge candidates ``0..count-1`` in order until the first ``k`` passes are known.

    ``judge`` must not raise for an expected failure (turn a provider error into a failing
    judgement): anything it raises cancels the scan and propagates.

    Returns:
        The judgements made and, when at least ``k`` candidates passed, the first ``k``
        of them in candidate order (Archon's sequential selection).
    """
    state: _Scanner[T] = _Scanner(count, passed, k, max_window)
    send, receive = anyio.create_memory_object_stream[tuple[int, T]](max(count, 1))

    async def run(index: int, scope: anyio.CancelScope) -> None:
        with scope:
            result = await judge(index)
            send.send_nowait((index, result))

    with send, receive:
        try:
            async with anyio.create_task_group() as group:
                while state.scan.selected is None:
                    for index in state.to_start():
                        state.scopes[index] = anyio.CancelScope()
                        group.start_soon(run, index, state.scopes[index])
                    if not state.scopes:
                        break
                    state.settle(*await receive.receive())
                state.cancel(list(state.scopes))
        except BaseExceptionGroup as group_error:
            # A judge's failure (a bug: expected failures are results) is raised as itself.
            raise _first_error(group_error) from None
        # A judgement may have finished between its cancellation and now: it was made.
        while True:
            try:
                state.settle(*receive.receive_nowait())
            except anyio.WouldBlock:
                break
    state.scan.cancelled.sort()
    state.scan.skipped = count - state.next_index
    return state.scan


def record_scan(ctx: ComponentContext, scan: FirstKScan[T], *, window: int) -> None:
    """Note in the trace a scan that stopped before judging every candidate
    (``first_k_stopped_early``: how many were judged, cancelled and never started)."""
    if scan.cancelled or scan.skipped:
        ctx.note(
            "first_k_stopped_early",
            selected=scan.selected,
            judged=len(scan.results),
            cancelled=len(scan.cancelled),
            skipped=scan.skipped,
            window=window,
        )


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf of an exception group that is not a cancellation."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        error = pending.pop(0)
        if isinstance(error, BaseExceptionGroup):
            pending[:0] = list(error.exceptions)
        else:
            leaves.append(error)
    cancelled = anyio.get_cancelled_exc_class()
    return next((leaf for leaf in leaves if not isinstance(leaf, cancelled)), leaves[0])
