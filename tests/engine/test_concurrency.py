"""gather: results in order, the first failure raised as itself with its siblings cancelled
(whichever function fails, the first one, which runs in the calling task, included)."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from archon_async._concurrency import gather, gather_settled
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
