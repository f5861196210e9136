"""Leaving the ``archon-async`` program after a batch without the interpreter's teardown.

When a Python program ends, the interpreter joins its threads, runs the ``atexit``
handlers, flushes standard output and error, and then frees every object it holds, module
by module, one deallocation at a time. After a batch that last part is pure cost: nothing
is left to write (the answers file, its lock, the cache and the spend journal are closed
before the command returns), and freeing the engine's and the imports' objects took 1.5 %
of the instructions of a 200-prompt cached rerun (21.6M of 1,455M, callgrind;
bench/RESULTS.md, issue 12).
`exit_without_teardown` does the first three steps as the interpreter does them, then ends
the process with ``os._exit``.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

__all__ = ["exit_without_teardown"]


def exit_without_teardown(status: int) -> NoReturn:
    """End the process with ``status`` as ``sys.exit`` would, without freeing its objects:
    the threads joined (``threading``'s own shutdown, which also stops the workers of
    ``concurrent.futures`` pools), every ``atexit`` handler run (logging's, coverage's, a
    host's), standard output and error flushed; then ``os._exit``.

    Where CPython's two shutdown functions are missing, or a flush fails (a closed pipe),
    it falls back to ``sys.exit(status)`` and the interpreter's own exit, which reports it.
    """
    shut_threads = getattr(threading, "_shutdown", None)
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if shut_threads is None or run_exit_handlers is None:
        sys.exit(status)
    shut_threads()
    run_exit_handlers()  # runs each once and forgets them: the fallback below runs none again
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(status)
    os._exit(status)
