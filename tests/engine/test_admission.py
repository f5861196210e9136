"""The priority gate: bounded in-flight calls, oldest run first, cancellation-safe."""

from __future__ import annotations

import asyncio
import random

import pytest

from archon_async._admission import GateStatistics, PriorityGate


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


async def test_a_queued_waiter_is_not_overtaken_when_a_place_frees() -> None:
    """FIFO fairness: a released place goes to the oldest live waiter queued (past one
    cancelled ahead of it) before the waiter even runs, so an acquire_nowait made in
    between finds the gate full and does not take the place ahead of the waiter."""
    gate = PriorityGate(2)
    assert gate.acquire_nowait() and gate.acquire_nowait()
    gone = asyncio.create_task(gate.acquire(0))
    queued = asyncio.create_task(gate.acquire(1))
    later = asyncio.create_task(gate.acquire(2))
    await asyncio.sleep(0)
    gone.cancel()  # stays in the queue, dead, ahead of the others
    with pytest.raises(asyncio.CancelledError):
        await gone
    gate.release()  # a place frees: it is the queued waiter's, not the newcomer's
    assert not gate.acquire_nowait()
    await asyncio.sleep(0)
    assert queued.done() and not later.done()  # admitted on its first turn, not queued again
    gate.release()
    assert not gate.acquire_nowait()
    await later
    assert gate.statistics() == GateStatistics(capacity=2, in_flight=2, waiting=0)


async def test_no_place_is_free_while_a_live_waiter_is_queued() -> None:
    """Why acquire_nowait needs no look at the queue: over random interleavings of every
    operation (a place freed and taken before a woken waiter runs, cancelled waiters left
    in the queue), a live waiter queued means every place is taken, and the places held
    never exceed the capacity."""
    rng = random.Random(12)
    for capacity in (1, 2, 3):
        gate = PriorityGate(capacity)
        held = 0  # places taken by acquire_nowait or by a waiter that returned
        waiters: list[asyncio.Task[None]] = []
        admitted: set[asyncio.Task[None]] = set()
        for _ in range(500):
            queued = any(not future.done() for *_, future in gate._waiters)
            assert not queued or gate.statistics().in_flight == capacity
            action = rng.choice(("nowait", "wait", "cancel", "release", "step"))
            if action == "nowait":
                held += gate.acquire_nowait()
            elif action == "wait":
                waiters.append(asyncio.create_task(gate.acquire(rng.randrange(3))))
            elif action == "cancel" and (live := [t for t in waiters if not t.done()]):
                rng.choice(live).cancel()  # granted or not: either way its place goes on
            elif action == "release" and held:
                gate.release()
                held -= 1
            elif action == "step":  # the loop runs: woken waiters return, cancelled ones end
                await asyncio.sleep(0)
            for task in waiters:
                if task.done() and not task.cancelled() and task not in admitted:
                    admitted.add(task)
                    held += 1
            assert held <= capacity
        for task in waiters:
            task.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
