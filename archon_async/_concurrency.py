"""Structured fan-out on anyio task groups, used by the layer runner and components."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Sequence
from contextvars import Context, copy_context
from typing import Any, TypeVar

import anyio

from ._exceptions import ArchonError

__all__ = ["gather", "gather_settled"]

T = TypeVar("T")


async def gather(fns: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run every function concurrently in one task group; results in order.

    The first failure cancels the siblings and is raised as itself (not wrapped in an
    exception group), so callers can catch `ArchonError` directly.

    The functions start in order in the calling task, each running until it first waits:
    one that ends without waiting (a cached rerun's fan-out: every call answered from
    memory) needs no task, and the next starts in the same way; at the first that waits,
    the ones after it are started as tasks and it is finished in this task, as they run.
    The ones started here run in a copy of the caller's context, as a task would (the
    first in the caller's own, as before: it always ran here).
    """
    if len(fns) <= 1:
        # One function runs in this task: no group, and no comprehension's frame between
        # the caller and its awaits (every loop turn resumes the whole chain).
        return [await fns[0]()] if fns else []
    results: list[Any] = [None] * len(fns)

    async def run(index: int, fn: Callable[[], Awaitable[T]]) -> None:
        results[index] = await fn()

    try:
        async with anyio.create_task_group() as group:
            for index, fn in enumerate(fns):
                started = _Started(fn(), None if index == 0 else copy_context())
                if started.done:
                    results[index] = started.value
                    continue
                for later in range(index + 1, len(fns)):
                    group.start_soon(run, later, fns[later])
                results[index] = await started
                break
    except BaseExceptionGroup as exc:
        raise _first_leaf(exc) from None
    return results


class _Started:
    """An awaitable run to its first wait on creation (in ``context``, if given): `done`
    when it ended without waiting (its result in `value`); otherwise awaiting this
    finishes it in the awaiting task, as ``await awaitable`` would have (what it waits
    for, what is sent or thrown into it, and closing it are passed through)."""

    __slots__ = ("_context", "_steps", "_waiting", "done", "value")

    def __init__(self, awaitable: Awaitable[Any], context: Context | None) -> None:
        self._steps = awaitable.__await__()
        self._context = context
        self.done = False
        self.value: Any = None
        self._waiting: Any = None
        try:
            self._waiting = self._step(self._steps.send, None)
        except StopIteration as end:
            self.done, self.value = True, end.value

    def _step(self, method: Callable[[Any], Any], argument: Any) -> Any:
        if self._context is None:
            return method(argument)
        return self._context.run(method, argument)

    def __await__(self) -> Generator[Any, Any, Any]:
        waiting = self._waiting
        while True:
            try:
                sent = yield waiting
            except GeneratorExit:
                self._steps.close()
                raise
            except BaseException as exc:  # cancellation included: passed on, not kept
                try:
                    waiting = self._step(self._steps.throw, exc)
                except StopIteration as end:
                    return end.value
            else:
                try:
                    waiting = self._step(self._steps.send, sent)
                except StopIteration as end:
                    return end.value


async def gather_settled(fns: Sequence[Callable[[], Awaitable[T]]]) -> list[T | ArchonError]:
    """Run every function concurrently; each result is its value or its `ArchonError`.

    Other exceptions are bugs: they cancel the siblings and propagate.
    """

    if len(fns) == 1:
        return [await _settle(fns[0])]
    return await gather([lambda fn=fn: _settle(fn) for fn in fns])  # type: ignore[misc]


async def _settle(fn: Callable[[], Awaitable[T]]) -> T | ArchonError:
    try:
        return await fn()
    except ArchonError as exc:
        return exc


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
