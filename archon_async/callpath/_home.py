"""A call path's home loop: the one event loop its buckets, pools and cache live on.

Calls made on any other loop are run on the home loop and awaited from theirs; a call
path opened synchronously gets a home loop on a thread of its own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .._exceptions import ArchonError

__all__ = ["check_home", "forward", "start_loop_thread", "stop_loop_thread"]

T = TypeVar("T")


def start_loop_thread() -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    """A new event loop running on a daemon thread of its own."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="archon-callpath", daemon=True)
    thread.start()
    return loop, thread


def stop_loop_thread(loop: asyncio.AbstractEventLoop, thread: threading.Thread | None) -> None:
    """Stop a loop started by `start_loop_thread`, wait for its thread, close it."""
    loop.call_soon_threadsafe(loop.stop)
    if thread is not None:
        thread.join()
    loop.close()


def check_home(loop: asyncio.AbstractEventLoop | None) -> None:
    """Raise if the home loop is another one that no longer runs.

    Raises:
        ArchonError: the loop that opened the call path has ended.
    """
    if loop is None or loop is asyncio.get_running_loop():
        return
    if loop.is_closed() or not loop.is_running():
        raise ArchonError(
            "the call path's home loop is not running: open it with 'with CallPath(...)' "
            "to share it between threads"
        )


async def forward(loop: asyncio.AbstractEventLoop | None, coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on the home loop and wait for it from this one.

    Raises:
        ArchonError: the home loop has ended (the coroutine is closed, never run).
    """
    try:
        check_home(loop)
    except ArchonError:
        coroutine.close()
        raise
    assert loop is not None
    future = asyncio.run_coroutine_threadsafe(coroutine, loop)
    return await asyncio.wrap_future(future)
