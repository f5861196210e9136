"""What the CLI's sub-command modules share with ``cli.main`` (kept out of ``cli`` itself,
which runs as ``__main__`` under ``python -m archon_async.cli``: a second copy of its
globals would not see the first's)."""

from __future__ import annotations

import threading

__all__ = ["TERMINATED", "UsageError"]

#: Set by SIGTERM, which then unwinds as a KeyboardInterrupt (the event loop turns any
#: subclass back into a plain one): exit status 143 instead of 130.
TERMINATED = threading.Event()


class UsageError(Exception):
    """Arguments the command cannot work with (exit status 2), said before any call."""
