"""Structured fan-out on anyio task groups, used by the layer runner and components.

Why `gather_map` steps coroutines by hand (`_Started`) instead of starting a task a call:
on a cached rerun nearly every fan-out (a layer's components, a component's samples) is
answered from the cache without waiting, and a task a call is most of what such a fan-out
costs. A call run in the calling task up to its first wait needs no task if it never waits;
one that waits is finished in the calling task, and the calls after it start as tasks, as
they always did. A plain task group instead took 1.29x the client CPU of a fully cached
rerun of 1,000 prompts of the default architecture (medians of 6 alternated reruns, 0.456 s
against 0.354 s; bench/gather_stepping.py, RESULTS.md). tests/engine/test_concurrency.py
pins what a task would guarantee: results in order, the first failure raised with the
others cancelled, the caller's cancellation reaching a call finished here, and a call run
here keeping the context variables it sets to itself.

A fan-out whose calls all end without waiting leaves its group by the group's cancel scope
alone, not ``__aexit__``: that relies on ``TaskGroup.__aenter__`` doing nothing but enter
that scope, true of anyio 4.4 to 4.16, the range pyproject.toml allows;
tests/engine/test_anyio_internals.py fails, saying what to do, on a release where it is not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from contextvars import Context, copy_context
from functools import partial
from typing import Any, TypeVar

import anyio

from ._exceptions import ArchonError

__all__ = ["gather", "gather_map", "gather_map_settled", "gather_settled"]

T = TypeVar("T")
A = TypeVar("A")


def gather_map(fn: Callable[[A], Awaitable[T]], items: Sequence[A]) -> Coroutine[Any, Any, list[T]]:
    """Run ``fn(item)`` for every item concurrently in one task group; results in order.

    The first failure cancels the siblings and is raised as itself (not wrapped in an
    exception group), so callers can catch `ArchonError` directly.

    The calls start in order in the calling task, each running until it first waits: one
    that ends without waiting (a cached rerun's fan-out: every call answered from memory)
    needs no task, and the next starts in the same way; at the first that waits, the ones
    after it are started as tasks and it is finished in this task, as they run. The ones
    started here run in a copy of the caller's context, as a task would (the first in the
    caller's own, as before: it always ran here).

    ``fn`` and the items, not a closure per item: nothing is built per item but its call
    (a batch keeps every prompt's fan-outs alive at once, for the garbage collector).
    """
    if len(items) <= 1:
        return _gather_one(fn, items)
    return _gather_many(fn, items)


async def _gather_one(fn: Callable[[A], Awaitable[T]], items: Sequence[A]) -> list[T]:
    # One call runs in this task: no group, and no comprehension's frame between the caller
    # and its awaits (every loop turn resumes the whole chain); no closure's cells either (a
    # layer of one component, a component of one sample: most calls of a batch).
    return [await fn(items[0])] if items else []


async def _gather_many(fn: Callable[[A], Awaitable[T]], items: Sequence[A]) -> list[T]:
    results: list[Any] = [None] * len(items)

    async def run(index: int) -> None:
        results[index] = await fn(items[index])

    group = anyio.create_task_group()
    try:
        await group.__aenter__()  # before the first call: the scopes it opens nest inside
        try:
            for index, item in enumerate(items):
                started = _Started(fn(item), None if index == 0 else copy_context())
                if started.done:
                    results[index] = started.value
                    continue
                for later in range(index + 1, len(items)):
                    group.start_soon(run, later)
                results[index] = await started
                break
            else:
                # Every call ended without waiting, so no task was started: the group is
                # left by its cancel scope alone. Its exit would yield to the event loop
                # once (anyio's checkpoint for a group without tasks), a loop turn per
                # fan-out of a cached rerun that nothing waits for.
                group.cancel_scope.__exit__(None, None, None)
                return results
        except BaseException as exc:
            if not await group.__aexit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            await group.__aexit__(None, None, None)
    except BaseExceptionGroup as exc:
        raise _first_leaf(exc) from None
    return results


def gather_map_settled(
    fn: Callable[[A], Awaitable[T]], items: Sequence[A]
) -> Coroutine[Any, Any, list[T | ArchonError]]:
    """`gather_map`, each result its value or its `ArchonError`.

    Other exceptions are bugs: they cancel the siblings and propagate.
    """
    return gather_map(partial(_settle, fn), items)


def gather(fns: Sequence[Callable[[], Awaitable[T]]]) -> Coroutine[Any, Any, list[T]]:
    """Run every function concurrently (see `gather_map`); results in order."""
    return gather_map(_call, fns)


def gather_settled(
    fns: Sequence[Callable[[], Awaitable[T]]],
) -> Coroutine[Any, Any, list[T | ArchonError]]:
    """Run every function concurrently; each result is its value or its `ArchonError`.

    Other exceptions are bugs: they cancel the siblings and propagate.
    """
    return gather_map_settled(_call, fns)


def _call(fn: Callable[[], Awaitable[T]]) -> Awaitable[T]:
    return fn()


async def _settle(fn: Callable[[A], Awaitable[T]], item: A) -> T | ArchonError:
    try:
        return await fn(item)
    except ArchonError as exc:
        return exc


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
        # What ``await awaitable`` does, written out so that each step runs in the call's
        # own context: what it waits for goes up to the event loop, and the loop's answer
        # (or the exception thrown in, cancellation included) goes back down into it.
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
