"""Admission of calls to a provider: at most N in flight, earliest-started runs first.

Without it, a batch's newest prompts compete equally with the ones that started earlier,
so every prompt finishes late and answers arrive all at the end. With it, each call carries
the start ticket of its `generate()`, and a freed slot goes to the call of the oldest run:
answers stream out steadily and the number of half-done prompts stays small.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["PriorityGate", "current_ticket", "next_ticket"]

#: The start ticket of the `generate()` a call belongs to (lower is older).
current_ticket: ContextVar[int] = ContextVar("archon_async_ticket", default=0)
_tickets = itertools.count(1)


def next_ticket() -> int:
    """A new, increasing start ticket."""
    return next(_tickets)


@dataclass(frozen=True, slots=True)
class GateStatistics:
    """A snapshot of a gate."""

    capacity: int
    in_flight: int
    waiting: int


class PriorityGate:
    """A semaphore whose waiters are admitted lowest ticket first (FIFO among equals).

    Cancellation-safe: a waiter cancelled after it was granted a slot hands the slot on.
    """

    __slots__ = ("_capacity", "_in_flight", "_order", "_waiters")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._in_flight = 0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __repr__(self) -> str:
        return (
            f"PriorityGate(capacity={self._capacity}, in_flight={self._in_flight}, "
            f"waiting={len(self._waiters)})"
        )

    def statistics(self) -> GateStatistics:
        """How many calls are in flight and waiting."""
        return GateStatistics(self._capacity, self._in_flight, len(self._waiters))

    def acquire_nowait(self) -> bool:
        """Take a slot if one is free: True; else nothing changes.

        Never ahead of a waiter: a slot is only ever free while nobody waits for one.
        A waiter queues only when every slot is taken, and `release` hands the slot it
        frees straight to the oldest live waiter (``in_flight`` unchanged) before that
        waiter even runs; only with no live waiter left does a slot become free. So a
        check of the queue here could never decide (the capacity check refuses first).
        """
        if self._in_flight < self._capacity:
            self._in_flight += 1
            return True
        return False

    async def acquire(self, ticket: int) -> None:
        """Wait for a slot; older tickets are served first."""
        if self.acquire_nowait():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (ticket, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # granted just as we were cancelled: pass the slot on
            raise

    def release(self) -> None:
        """Free a slot, handing it to the oldest live waiter if there is one."""
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)  # the slot moves to the waiter: in_flight unchanged
                return
        self._in_flight -= 1
