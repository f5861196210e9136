"""An event loop on a thread of its own, for the synchronous API (`Engine.generate_sync`).

One loop thread per engine serves every thread that calls it, the way ``openai.OpenAI`` is
shared: the engine's connection pools, limits and key pools live on that one loop, and each
caller's coroutine runs there while the caller's thread waits for its result.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncGenerator, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from ._exceptions import ArchonError

if TYPE_CHECKING:
    from ._scoring import HttpScorer
    from .callpath import CallPath

__all__ = ["LoopThread", "close_home", "closes_with_loop"]

T = TypeVar("T")


class LoopThread:
    """An asyncio loop running on a daemon thread (a daemon, so that a forgotten one never
    keeps the interpreter from exiting; the engine closes it at exit)."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the coroutines run on."""
        return self._loop

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for its result in this thread.

        Interrupting the wait (Ctrl-C) cancels the coroutine.

        Raises:
            ArchonError: called from the loop's own thread (it would wait for itself).
            Exception: whatever the coroutine raises.
        """
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise ArchonError("generate_sync was called from the engine's own loop thread")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def stop(self) -> None:
        """Stop the loop, wait for its thread, finalize its async generators and close it."""
        if self._loop.is_closed():
            return
        # On the loop's own thread: the caller may be inside a running loop (a notebook).
        asyncio.run_coroutine_threadsafe(self._loop.shutdown_asyncgens(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


def close_home(home: LoopThread, callpath: CallPath | None, scorers: list[HttpScorer]) -> None:
    """Close what an engine opened on its loop thread (its own call path, its scorers), then
    the thread: the engine's finalizer, so it holds these and not the engine."""

    async def close() -> None:
        if callpath is not None:
            await callpath.aclose()
        for scorer in scorers:
            await scorer.aclose()
        scorers.clear()

    try:
        home.run(close())
    finally:
        home.stop()


async def closes_with_loop(engine: weakref.ref[Any]) -> AsyncGenerator[None, None]:
    """Closes the engine when the loop finalizes it (see `Engine._guard_loop`)."""
    try:
        yield
    finally:
        alive = engine()
        if alive is not None and alive._loop_guard is not None:
            alive._loop_guard = None
            await alive.aclose()
