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
