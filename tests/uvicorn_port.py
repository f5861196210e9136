"""The port a child uvicorn server bound. Tests start such servers on port 0 and read the
port from uvicorn's "running on" line: a port probed free by the test and bound later by the
child can be taken in between by another suite's server ("address already in use")."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

__all__ = ["bound_port"]

_RUNNING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


def bound_port(log: Path, process: subprocess.Popen[Any], timeout_s: float = 90) -> int:
    """The port uvicorn (started with ``--port 0``, logging into ``log``) listens on.

    Raises:
        AssertionError: the process ended or ``timeout_s`` passed before that line; with
            the log.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        found = _RUNNING.search(log.read_text())
        if found:
            return int(found.group(1))
        time.sleep(0.05)
    raise AssertionError(f"uvicorn did not start: {log.read_text()}")
