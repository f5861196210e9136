"""What the CLI's sub-command modules share with ``cli.main`` (kept out of ``cli`` itself,
which runs as ``__main__`` under ``python -m archon_async.cli``: a second copy of its
globals would not see the first's)."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "TERMINATED",
    "UsageError",
    "check_summary_path",
    "positive_float",
    "positive_int",
    "report_summary",
]

#: Set by SIGTERM, which then unwinds as a KeyboardInterrupt (the event loop turns any
#: subclass back into a plain one): exit status 143 instead of 130.
TERMINATED = threading.Event()


class UsageError(Exception):
    """Arguments the command cannot work with (exit status 2), said before any call."""


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (otherwise a usage error, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number above 0 (otherwise a usage error, exit 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number above 0")
    return value


def check_summary_path(path: Path | None) -> None:
    """Refuse, before any call, a ``--summary`` path the summary could not be written to
    (a folder, a folder that is missing): the run would end in a traceback after its work.

    Raises:
        UsageError: the path is not a writable file (said with the fix).
    """
    if path is None:
        return
    if path.is_dir():
        raise UsageError(f"--summary {path} is a folder: give a file path")
    if not path.parent.is_dir():
        raise UsageError(f"--summary {path}: the folder {path.parent} does not exist")


def report_summary(summary: dict[str, Any], path: Path | None) -> None:
    """Write a command's JSON summary on standard error, where every summary goes (standard
    output is for answers), and to ``path`` if given."""
    text = orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode()
    sys.stderr.write("\n" + text + "\n")
    sys.stderr.flush()
    if path:
        path.write_text(text + "\n", encoding="utf-8")
