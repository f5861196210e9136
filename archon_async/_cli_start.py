"""Ctrl-C while the ``archon-async`` command starts: one line and exit status 130.

The command's entry point imports the package (pydantic models, HTTP clients: a few
hundred milliseconds on a loaded machine) before ``cli.main`` runs, and a Ctrl-C in that
time raised KeyboardInterrupt out of an import: Python printed a traceback of whichever
library was loading. `guard_start`, run as the package's ``__init__`` first imports this
module, installs a handler that says "interrupted" and exits 130 at once, only in the
process of the command (a library user's SIGINT is left alone) and only where Ctrl-C was
not ignored; ``cli.main`` puts the previous handler back as it starts (`end_guard`) and
catches KeyboardInterrupt itself from then on.

The package's ``__init__`` pauses the garbage collector while it imports; in the command's
process it stays paused (`hold_collector`) until ``cli.main`` has frozen what the imports
made and calls `release_collector`. Turned back on at the end of ``__init__``, its first
collection walked every object the imports had made, finding a few hundred to free: 16-21
ms of CPU, about a twelfth of the command's start-up (bench/RESULTS.md, issue 12).
"""

from __future__ import annotations

import gc
import itertools
import os
import signal
import sys
from typing import Any

__all__ = ["end_guard", "guard_start", "hold_collector", "release_collector"]

#: The module that is the command under ``python -m``.
_COMMAND_MODULE = "archon_async.cli"

#: Whether the package's import left the collector paused for the command to turn on.
_collector_held = False


def _is_the_command() -> bool:
    """Whether this process was started as the command (its script, or ``python -m``)."""
    if sys.argv and os.path.basename(sys.argv[0]) == "archon-async":
        return True
    # Under ``python -m`` argv[0] is "-m" while the package is imported; the original
    # command line names the module.
    started = getattr(sys, "orig_argv", ())
    pairs = itertools.pairwise(started)
    return any(word == "-m" and following == _COMMAND_MODULE for word, following in pairs)


def _interrupted(signum: int, frame: Any) -> None:
    # Nothing is open or written yet: leave now, without unwinding half-done imports.
    try:
        sys.stderr.write("archon-async: interrupted\n")
        sys.stderr.flush()
    finally:
        os._exit(130)


def guard_start() -> None:
    """In the command's process, exit 130 with one line on Ctrl-C until `end_guard`."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler and _is_the_command():
        signal.signal(signal.SIGINT, _interrupted)


def hold_collector() -> bool:
    """In the command's process, keep the collector the package's import paused off until
    `release_collector`; whether it is kept off (elsewhere the importer's choice stands)."""
    global _collector_held
    _collector_held = _is_the_command()
    return _collector_held


def release_collector() -> None:
    """Turn the collector back on if `hold_collector` kept it off."""
    global _collector_held
    if _collector_held:
        _collector_held = False
        gc.enable()


def end_guard() -> None:
    """Ctrl-C raises KeyboardInterrupt again (the command catches it from here on)."""
    if signal.getsignal(signal.SIGINT) is _interrupted:
        signal.signal(signal.SIGINT, signal.default_int_handler)


guard_start()
