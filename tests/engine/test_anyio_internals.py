"""What `archon_async._concurrency._gather_many` takes from anyio beyond its public API,
checked on the anyio installed. A fan-out whose calls all end without waiting leaves its task
group by ``group.cancel_scope.__exit__`` alone, skipping ``group.__aexit__`` (a loop turn a
fan-out: 1.29x the CPU of a cached rerun, bench/RESULTS.md "gather's hand-stepping, kept").
That holds only while ``TaskGroup.__aenter__`` does nothing but enter its cancel scope (and
mark the group entered). pyproject.toml pins anyio to the releases this was checked on; these
tests fail with what to do when a release changes it."""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from typing import Any

import anyio
import anyio.lowlevel
from anyio._backends._asyncio import _task_states

from archon_async._concurrency import gather_map

#: The group's attributes ``__aenter__`` may set: anyio 4.4-4.5's ``_active``, 4.6+'s
#: ``_entered``. Anything else is state ``__aexit__`` would have undone.
_ENTERED_FLAGS = {"_active", "_entered"}

_WHAT_TO_DO = (
    "archon_async._concurrency._gather_many leaves a task group that started no task by "
    "group.cancel_scope.__exit__ alone, skipping group.__aexit__; anyio {version} would now "
    "keep state behind. Either make it leave by `await group.__aexit__(None, None, None)` "
    "(one loop turn a fan-out; measure the cached rerun with bench/gather_stepping.py) or "
    "undo that state too, then widen the anyio pin in pyproject.toml"
)


def _fields(state: Any) -> dict[str, Any]:
    names = getattr(state, "__slots__", ()) or vars(state)
    return {name: getattr(state, name, None) for name in names}


async def test_a_task_groups_aenter_only_enters_its_cancel_scope() -> None:
    task = asyncio.current_task()
    with anyio.CancelScope() as outer:
        before = _fields(_task_states[task])
        group = anyio.create_task_group()
        unentered = dict(vars(group))
        await group.__aenter__()
        changed = {
            name
            for name, value in vars(group).items()
            if name not in unentered or unentered[name] is not value
        }
        assert changed <= _ENTERED_FLAGS, (
            f"TaskGroup.__aenter__ set {sorted(changed - _ENTERED_FLAGS)}: "
            + _WHAT_TO_DO.format(version=version("anyio"))
        )
        assert _task_states[task].cancel_scope is group.cancel_scope
        group.cancel_scope.__exit__(None, None, None)
        after = _fields(_task_states[task])
        assert after == before, (
            f"the task's anyio state is {after}, was {before}: "
            + _WHAT_TO_DO.format(version=version("anyio"))
        )
    assert not outer.cancel_called


async def test_a_fan_out_that_never_waits_leaves_the_callers_scopes_as_they_were() -> None:
    """Public view of the same: after such a fan-out the caller's deadline is its own
    again, and cancelling its scope cancels the caller and is caught there."""

    async def at_once(item: int) -> int:
        return item * 2

    with anyio.CancelScope(deadline=anyio.current_time() + 1000) as outer:
        assert await gather_map(at_once, [1, 2, 3]) == [2, 4, 6]
        assert anyio.current_effective_deadline() == outer.deadline
        outer.cancel()
        await anyio.lowlevel.checkpoint()
    assert outer.cancelled_caught
