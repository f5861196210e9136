"""Structured fan-out on anyio task groups, used by the layer runner and components."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import anyio

from ._exceptions import ArchonError

__all__ = ["gather", "gather_settled"]

T = TypeVar("T")


async def gather(fns: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run every function concurrently in one task group; results in order.

    The first failure cancels the siblings and is raised as itself (not wrapped in an
    exception group), so callers can catch `ArchonError` directly.
    """
    if len(fns) <= 1:
        return [await fn() for fn in fns]
    results: list[Any] = [None] * len(fns)

    async def run(index: int, fn: Callable[[], Awaitable[T]]) -> None:
        results[index] = await fn()

    try:
        async with anyio.create_task_group() as group:
            for index in range(1, len(fns)):
                group.start_soon(run, index, fns[index])
            # The first runs in this task, inside the group (a failure cancels the others as
            # theirs cancels it): one task fewer, which is most of a cached run's fan-out
            # cost; it still starts before the others.
            await run(0, fns[0])
    except BaseExceptionGroup as exc:
        raise _first_leaf(exc) from None
    return results


async def gather_settled(fns: Sequence[Callable[[], Awaitable[T]]]) -> list[T | ArchonError]:
    """Run every function concurrently; each result is its value or its `ArchonError`.

    Other exceptions are bugs: they cancel the siblings and propagate.
    """

    async def settle(fn: Callable[[], Awaitable[T]]) -> T | ArchonError:
        try:
            return await fn()
        except ArchonError as exc:
            return exc

    return await gather([lambda fn=fn: settle(fn) for fn in fns])  # type: ignore[misc]


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first non-cancellation leaf of a (possibly nested) exception group."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    for leaf in leaves:
        if not isinstance(leaf, anyio.get_cancelled_exc_class()):
            return leaf
    return leaves[0]
