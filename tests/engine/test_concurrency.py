"""gather: results in order, the first failure raised as itself with its siblings cancelled
(whichever function fails, the first one, which runs in the calling task, included)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial

import anyio
import anyio.lowlevel
import pytest

from archon_async._concurrency import gather, gather_map, gather_map_settled, gather_settled
from archon_async._exceptions import ArchonError


async def _step(name: str, delay: float, log: list[str], *, fail: bool = False) -> str:
    try:
        await anyio.sleep(delay)
    except anyio.get_cancelled_exc_class():
        log.append(f"{name} cancelled")
        raise
    if fail:
        raise ArchonError(f"{name} failed")
    log.append(f"{name} done")
    return name


@pytest.mark.parametrize("failing", [0, 1, 2])
async def test_a_failure_cancels_the_others_and_is_raised_as_itself(failing: int) -> None:
    log: list[str] = []
    fns = [
        lambda i=i: _step(f"f{i}", 0.01 if i == failing else 5, log, fail=i == failing)
        for i in range(3)
    ]
    with anyio.fail_after(3), pytest.raises(ArchonError, match=f"f{failing} failed"):
        await gather(fns)
    assert sorted(log) == sorted(f"f{i} cancelled" for i in range(3) if i != failing)


async def test_results_come_in_order_and_run_concurrently() -> None:
    later = anyio.Event()

    async def waits() -> str:
        await later.wait()  # set by the last function: they run at the same time
        return "first"

    async def middle() -> str:
        await anyio.lowlevel.checkpoint()
        return "middle"

    async def sets() -> str:
        later.set()
        return "last"

    with anyio.fail_after(3):
        assert await gather([waits, middle, sets]) == ["first", "middle", "last"]
    assert await gather([]) == []
    log: list[str] = []
    settled = await gather_settled([lambda: _step("a", 0, log, fail=True), sets])
    assert isinstance(settled[0], ArchonError) and settled[1] == "last"


async def test_cancelling_the_caller_cancels_every_function() -> None:
    log: list[str] = []
    with anyio.move_on_after(0.05):
        await gather([lambda i=i: _step(f"f{i}", 5, log) for i in range(2)])
    assert sorted(log) == ["f0 cancelled", "f1 cancelled"]


async def test_functions_that_end_without_waiting_run_in_the_calling_task() -> None:
    # A cached rerun's fan-out: nothing waits, so no task is started.
    caller = anyio.get_current_task().id
    ran: list[tuple[str, int]] = []

    async def ends(name: str) -> str:
        ran.append((name, anyio.get_current_task().id))
        return name

    assert await gather([partial(ends, n) for n in "abc"]) == ["a", "b", "c"]
    assert ran == [("a", caller), ("b", caller), ("c", caller)]


async def test_functions_that_end_without_waiting_give_the_loop_no_turn() -> None:
    # A cached rerun's fan-out ends in the same loop turn: the task group, which started no
    # task, is left without the checkpoint its exit would make (a turn a prompt before).
    turns: list[int] = []
    asyncio.get_running_loop().call_soon(turns.append, 1)

    async def ends(name: str) -> str:
        return name

    assert await gather([partial(ends, n) for n in "abc"]) == ["a", "b", "c"]
    assert turns == []  # the callback scheduled before it has not run yet
    await anyio.lowlevel.checkpoint()
    assert turns == [1]
    # The caller's cancellation still reaches the caller at its next wait.
    with anyio.move_on_after(5) as scope:
        scope.cancel()
        assert await gather([partial(ends, n) for n in "ab"]) == ["a", "b"]
        await anyio.lowlevel.checkpoint()
        pytest.fail("cancelled scope: the checkpoint raises")  # pragma: no cover
    assert scope.cancelled_caught


async def test_the_first_that_waits_is_finished_here_while_the_rest_run_as_tasks() -> None:
    caller = anyio.get_current_task().id
    tasks: dict[str, int] = {}
    released = anyio.Event()

    async def ends() -> str:
        tasks["ends"] = anyio.get_current_task().id
        return "ends"

    async def waits() -> str:
        await released.wait()  # set by the last one: they run at the same time
        tasks["waits"] = anyio.get_current_task().id
        return "waits"

    async def releases() -> str:
        tasks["releases"] = anyio.get_current_task().id
        released.set()
        return "releases"

    with anyio.fail_after(3):
        assert await gather([ends, waits, releases]) == ["ends", "waits", "releases"]
    assert tasks["ends"] == tasks["waits"] == caller
    assert tasks["releases"] != caller


async def test_a_later_function_run_here_does_not_change_the_callers_context() -> None:
    from contextvars import ContextVar

    mark: ContextVar[str] = ContextVar("mark", default="caller")

    async def sets(value: str) -> str:
        mark.set(value)
        if value == "waits":
            await anyio.lowlevel.checkpoint()
        return mark.get()

    assert await gather([lambda: sets("first"), lambda: sets("second")]) == ["first", "second"]
    assert mark.get() == "first"  # the first always ran in the caller's own context
    mark.set("caller")
    assert await gather([lambda: sets("caller"), lambda: sets("waits")]) == ["caller", "waits"]
    assert mark.get() == "caller"


@pytest.mark.parametrize("failing", [1, 2])
async def test_a_failure_cancels_a_later_function_that_waits_here(failing: int) -> None:
    log: list[str] = []

    async def ends() -> str:
        return "ends"

    steps = [
        partial(_step, f"f{i}", 0.01 if i == failing else 5, log, fail=i == failing) for i in (1, 2)
    ]
    fns: list[Callable[[], Awaitable[str]]] = [ends, *steps]
    with anyio.fail_after(3), pytest.raises(ArchonError, match=f"f{failing} failed"):
        await gather(fns)
    assert log == [f"f{3 - failing} cancelled"]


async def test_cancelling_the_caller_cancels_a_later_function_waiting_here() -> None:
    log: list[str] = []

    async def ends() -> str:
        return "ends"

    fns: list[Callable[[], Awaitable[str]]] = [ends, partial(_step, "f1", 5, log)]
    with anyio.move_on_after(0.05):
        await gather([*fns, partial(_step, "f2", 5, log)])
    assert sorted(log) == ["f1 cancelled", "f2 cancelled"]


async def test_gather_map_calls_fn_once_per_item_concurrently_in_order() -> None:
    seen: list[int] = []

    async def double(item: int) -> int:
        seen.append(item)
        await anyio.sleep(0.01 * max(3 - item, 0))  # the last item ends first
        return item * 2

    with anyio.fail_after(3):
        assert await gather_map(double, range(3)) == [0, 2, 4]
        assert await gather_map(double, [5]) == [10]
        assert await gather_map(double, []) == []
    assert seen == [0, 1, 2, 5]


async def test_gather_map_settled_keeps_each_items_error_in_its_place() -> None:
    async def check(item: int) -> int:
        await anyio.lowlevel.checkpoint()
        if item % 2:
            raise ArchonError(f"odd {item}")
        return item

    results = await gather_map_settled(check, [0, 1, 2, 3])
    assert [r if isinstance(r, int) else str(r) for r in results] == [0, "odd 1", 2, "odd 3"]
    alone = await gather_map_settled(check, [1])
    assert [str(r) for r in alone] == ["odd 1"]
