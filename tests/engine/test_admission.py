"""The priority gate: bounded in-flight calls, oldest run first, cancellation-safe."""

from __future__ import annotations

import asyncio

import pytest

from archon_async._admission import PriorityGate


async def test_waiters_are_admitted_oldest_ticket_first_fifo_among_equals() -> None:
    gate = PriorityGate(1)
    await gate.acquire(100)
    order: list[str] = []

    async def wait(name: str, ticket: int) -> None:
        await gate.acquire(ticket)
        order.append(name)
        gate.release()

    tasks = [
        asyncio.create_task(wait(n, t)) for n, t in [("a5", 5), ("b2", 2), ("c9", 9), ("d2", 2)]
    ]
    await asyncio.sleep(0)
    assert gate.statistics().waiting == 4
    gate.release()
    await asyncio.gather(*tasks)
    assert order == ["b2", "d2", "a5", "c9"]
    assert gate.statistics().in_flight == 0


async def test_capacity_is_never_exceeded() -> None:
    gate = PriorityGate(3)
    active = peak = 0

    async def call(ticket: int) -> None:
        nonlocal active, peak
        await gate.acquire(ticket)
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0)
        active -= 1
        gate.release()

    await asyncio.gather(*(call(i % 7) for i in range(50)))
    assert peak == 3


async def test_a_cancelled_waiter_gives_up_its_turn() -> None:
    gate = PriorityGate(1)
    await gate.acquire(1)
    cancelled = asyncio.create_task(gate.acquire(0))
    later = asyncio.create_task(gate.acquire(5))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    gate.release()
    await asyncio.wait_for(later, 1)
    assert gate.statistics().in_flight == 1 and gate.statistics().waiting == 0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        PriorityGate(0)


async def test_a_free_place_is_taken_at_once_unless_someone_waits_for_one() -> None:
    gate = PriorityGate(2)
    assert gate.acquire_nowait() and gate.acquire_nowait()
    assert not gate.acquire_nowait()  # full: nothing changes
    assert gate.statistics().in_flight == 2
    waiter = asyncio.create_task(gate.acquire(1))
    await asyncio.sleep(0)
    gate.release()  # the place goes to the waiter ...
    await waiter
    gate.release()
    assert gate.statistics().in_flight == 1
    blocked = PriorityGate(1)
    await blocked.acquire(0)
    queued = asyncio.create_task(blocked.acquire(3))
    await asyncio.sleep(0)
    blocked.release()  # handed to the queued waiter, which has not run yet
    assert not blocked.acquire_nowait()  # the place is the waiter's, not the newcomer's
    await queued
