"""Batches sharing a budget from other threads' loops (`BudgetGate`): an engine or a call
path shared by threads gives every thread's batch a gate on one budget, and each gate reads
the others' prompts in flight. Two things broke when threads interleaved there: the set of
a budget's gates was iterated while another thread added one ("Set changed size during
iteration"), and two threads each saw room for their prompt and both started it (a cap of
calls overrun). The switch interval is made tiny so that threads interleave at almost every
step, and the runs are many: both failed reliably before every read and change of that
state was made under one lock."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

from archon_async import Budget, BudgetExceededError
from archon_async._batch_budget import BudgetGate
from archon_async._types import CallRecord

THREADS = 4


@pytest.fixture(autouse=True)
def _interleave() -> Iterator[None]:
    """Threads switch every microsecond (every few bytecodes), not every 5 ms."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _on_threads(work: Callable[[int], Coroutine[Any, Any, None]]) -> None:
    """``work(index)`` on each of `THREADS` threads, each in its own event loop, started
    together; re-raises the first error a thread met."""
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def thread(index: int) -> None:
        try:
            start.wait()
            asyncio.run(work(index))
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=thread, args=(i,)) for i in range(THREADS)]
    for each in threads:
        each.start()
    for each in threads:
        each.join()
    if errors:
        raise errors[0]


def test_gates_added_on_other_threads_while_one_reads_them() -> None:
    """Each thread adds gates to one budget while the others' admissions read every gate
    on it (the set grows to 1,200 gates)."""
    budget = Budget(max_calls=10**9)
    kept: list[BudgetGate] = []  # alive, so that every admission reads them all

    async def work(index: int) -> None:
        for _ in range(300):
            gate = BudgetGate([budget], 1)
            kept.append(gate)
            made: list[CallRecord] = []
            await gate.admit(made)
            gate.release(made)

    _on_threads(work)
    assert len(kept) == THREADS * 300


def test_prompts_admitted_on_other_threads_never_overrun_a_cap_of_calls() -> None:
    """Four threads' batches start prompts of one call each (held in flight) on a budget
    of 40 calls until refused: 40 start, never more, round after round."""
    for _ in range(60):
        budget = Budget(max_calls=40)
        gates = [BudgetGate([budget], 1) for _ in range(THREADS)]
        held: list[list[list[CallRecord]]] = [[] for _ in range(THREADS)]  # in flight

        async def work(
            index: int, gates: list[BudgetGate] = gates, held: list[list[Any]] = held
        ) -> None:
            while True:
                made: list[CallRecord] = []
                try:
                    await gates[index].admit(made)
                except BudgetExceededError:
                    return
                held[index].append(made)

        _on_threads(work)
        assert sum(len(each) for each in held) == 40


def _frozen_loop() -> asyncio.AbstractEventLoop:
    """An event loop whose clock never moves: a timer (a poll every 50 ms) never comes
    due, so a waiting prompt goes on only if something wakes it."""
    loop = asyncio.new_event_loop()
    loop.time = lambda: 0.0  # type: ignore[method-assign]
    return loop


@pytest.mark.parametrize("where", ["another thread's loop", "the same loop"])
def test_a_prompt_waiting_for_room_starts_when_a_prompt_sharing_the_budget_ends(
    where: str,
) -> None:
    """A batch's prompt waits for room under a token cap while only another batch's
    prompt is in flight (its share is not known yet); that prompt ends on its own loop.
    The waiting prompt starts at the next turns of its loop: it was looked at again only
    every 50 ms (here: never, the clock being frozen)."""
    budget = Budget(max_tokens=100)
    holder, waiter = BudgetGate([budget], 1), BudgetGate([budget], 1)
    held: list[CallRecord] = []
    admitted, waiting, released = threading.Event(), threading.Event(), threading.Event()
    loop = _frozen_loop()

    def release_on_another_thread() -> None:
        asyncio.run(holder.admit(held))
        admitted.set()
        waiting.wait()  # the other loop's prompt waits for room: end this one
        asyncio.run(_release(holder, held))
        released.set()

    async def wait_for_room() -> bool:
        task = asyncio.create_task(waiter.admit([]))
        for _ in range(10):
            await asyncio.sleep(0)
        assert not task.done()  # no room beside the prompt in flight
        waiting.set()
        if where == "the same loop":
            holder.release(held)
        else:
            released.wait()  # the release is done, its wake-up sent to this loop
        for _ in range(10):  # a few turns of this loop, no time
            await asyncio.sleep(0)
        started = task.done()
        task.cancel()
        return started

    try:
        if where == "the same loop":
            loop.run_until_complete(holder.admit(held))
            assert loop.run_until_complete(wait_for_room())
        else:
            other = threading.Thread(target=release_on_another_thread)
            other.start()
            try:
                admitted.wait()  # its prompt is in flight, on the other loop
                assert loop.run_until_complete(wait_for_room())
            finally:
                waiting.set()
                other.join()
    finally:
        loop.close()


async def _release(gate: BudgetGate, made: list[CallRecord]) -> None:
    gate.release(made)  # in a loop, as a batch's prompt ends
