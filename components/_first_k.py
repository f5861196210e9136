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


def _settle(
    scan: FirstKScan[T],
    scopes: dict[int, anyio.CancelScope],
    passing: list[int],
    passed: Callable[[T], bool],
    index: int,
    result: T,
) -> None:
    """Record a finished judgement (one cancelled too late counts as made)."""
    scopes.pop(index, None)
    if index in scan.cancelled:
        scan.cancelled.remove(index)
    scan.results[index] = result
    if passed(result):
        passing.append(index)


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
    scan: FirstKScan[T] = FirstKScan()
    scopes: dict[int, anyio.CancelScope] = {}  # judgements in flight
    send, receive = anyio.create_memory_object_stream[tuple[int, T]](max(count, 1))
    passing: list[int] = []

    async def run(index: int, scope: anyio.CancelScope) -> None:
        with scope:
            result = await judge(index)
            send.send_nowait((index, result))

    next_index = 0
    with send, receive:
        async with anyio.create_task_group() as group:
            while True:
                window = _window(k - len(passing), len(passing), len(scan.results), max_window)
                # A sliding window over candidate order, not a count of calls in flight:
                # nothing starts a window or more past the first unjudged candidate, so
                # the calls beyond Archon's stay under one window even when later
                # judgements finish first.
                while next_index < count and next_index < min(scopes, default=next_index) + window:
                    scopes[next_index] = anyio.CancelScope()
                    group.start_soon(run, next_index, scopes[next_index])
                    next_index += 1
                if not scopes:
                    break
                index, result = await receive.receive()
                _settle(scan, scopes, passing, passed, index, result)
                if len(passing) >= k:
                    # Nothing after the k-th pass so far can be chosen any more.
                    last = sorted(passing)[k - 1]
                    for later in [i for i in scopes if i > last]:
                        scopes.pop(later).cancel()
                        scan.cancelled.append(later)
                scan.selected = _decided(passing, scan.results, k)
                if scan.selected is not None:
                    break
            for index, scope in scopes.items():
                scope.cancel()
                scan.cancelled.append(index)
        # A judgement may have finished between its cancellation and now: it was made.
        while True:
            try:
                index, result = receive.receive_nowait()
            except anyio.WouldBlock:
                break
            _settle(scan, scopes, passing, passed, index, result)
    scan.cancelled.sort()
    scan.skipped = count - next_index
    return scan


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
