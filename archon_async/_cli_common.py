"""What the CLI's sub-command modules share with ``cli.main`` (kept out of ``cli`` itself,
which runs as ``__main__`` under ``python -m archon_async.cli``: a second copy of its
globals would not see the first's)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import orjson

__all__ = [
    "TERMINATED",
    "UsageError",
    "cancel_main",
    "check_cache_path",
    "check_summary_path",
    "positive_float",
    "positive_int",
    "report_summary",
    "run_async",
    "temperature",
]

T = TypeVar("T")
_N = TypeVar("_N", int, float)

#: Set by SIGTERM, which then unwinds as a KeyboardInterrupt (the event loop turns any
#: subclass back into a plain one): exit status 143 instead of 130.
TERMINATED = threading.Event()


#: The event loop and main task of the command running on the loop, if one is (`run_async`).
_MAIN: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = []


def run_async(fn: Callable[[], Awaitable[T]]) -> T:
    """``anyio.run(fn)`` for a command: SIGTERM (`cancel_main`) cancels its main task.

    Raises:
        KeyboardInterrupt: the run was cancelled by SIGTERM (or, as anyio.run raises it,
            by Ctrl-C).
    """

    async def main() -> T:
        task = asyncio.current_task()
        assert task is not None
        _MAIN.append((asyncio.get_running_loop(), task))
        try:
            return await fn()
        finally:
            _MAIN.pop()

    try:
        return anyio.run(main)
    except asyncio.CancelledError:
        if TERMINATED.is_set():  # asyncio.run says KeyboardInterrupt for its own Ctrl-C
            raise KeyboardInterrupt from None
        raise


def cancel_main() -> bool:
    """From a signal handler: cancel the main task of the command running on the event
    loop, as asyncio's runner does on Ctrl-C (once: a second signal changes nothing);
    False when no command runs on the loop.

    Every task group then unwinds from the loop's next step. Raising KeyboardInterrupt in
    the handler instead lands in whichever frame is running: between creating a
    coroutine and making it a task (``coroutine ... was never awaited``), or in a task
    whose traceback the loop's shutdown then prints. It is what happened whenever the
    runner had installed no handler of its own, i.e. when SIGINT was ignored, as in a
    script's background job.
    """
    if not _MAIN:
        return False
    loop, task = _MAIN[-1]
    if not task.cancelling():
        task.cancel()
        loop.call_soon_threadsafe(lambda: None)  # wake the loop if it is waiting
    return True


class UsageError(Exception):
    """Arguments the command cannot work with (exit status 2), said before any call."""


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (otherwise a usage error, exit 2)."""
    value = _parsed(text, int, "whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number above 0 (otherwise a usage error, exit 2)."""
    value = _parsed(text, float, "number")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number above 0")
    return value


def nonnegative_int(text: str) -> int:
    """An argparse type: a whole number of at least 0 (otherwise a usage error, exit 2)."""
    value = _parsed(text, int, "whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be at least 0")
    return value


def nonnegative_float(text: str) -> float:
    """An argparse type: a finite number of at least 0 (otherwise a usage error, exit 2)."""
    value = _parsed(text, float, "number")
    if not 0 <= value < float("inf"):  # NaN too
        raise argparse.ArgumentTypeError(f"{text} must be a finite number of at least 0")
    return value


def _parsed(text: str, parse: Callable[[str], _N], kind: str) -> _N:
    """``parse(text)``, or a usage error saying ``text`` is not a ``kind``."""
    try:
        return parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a {kind}") from None


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 (any free one) to 65535; a larger one was taken
    modulo 65536 by the system's address lookup, so the server listened elsewhere."""
    value = nonnegative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port: give 0 to 65535")
    return value


def temperature(text: str) -> float:
    """An argparse type: a sampling temperature, 0 to 2 as the configs take it (OpenAI's
    range; otherwise a usage error, exit 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 2:  # NaN too
        raise argparse.ArgumentTypeError(f"{text} must be a number from 0 to 2")
    return value


def check_summary_path(path: Path | None, **others: Path | None) -> None:
    """Refuse, before any call, a ``--summary`` path the summary could not be written to
    (a folder, a folder that is missing): the run would end in a traceback after its work;
    or one of the command's other files (``others``: ``input=``, ``output=``...), which the
    summary would overwrite at the end.

    Raises:
        UsageError: the path is not a writable file, or is another of the files (said
            with the fix).
    """
    if path is None:
        return
    if path.is_dir():
        raise UsageError(f"--summary {path} is a folder: give a file path")
    if not path.parent.is_dir():
        raise UsageError(f"--summary {path}: the folder {path.parent} does not exist")
    for flag, other in others.items():
        if other is not None and str(other) != "-" and path.resolve() == other.resolve():
            raise UsageError(
                f"--summary {path} is the --{flag} file, which the summary would overwrite: "
                "give another --summary"
            )


def check_cache_path(cache: Path | None, output: Path | None, **others: Path | None) -> None:
    """Refuse, before any call, a ``--cache`` that is another file of the command: the
    ``output`` or a file the run keeps beside it (``OUTPUT.spend.jsonl``, ``OUTPUT.lock``),
    or one of ``others`` (``input=``, ``summary=``...). SQLite would write its pages into
    the answers (a traceback, the file lost), or the summary overwrite the cache at the end.

    Raises:
        UsageError: naming both flags and the fix.
    """
    if cache is None:
        return
    from ._output_lock import output_lock_path
    from .callpath._journal import journal_path

    files = dict(others)
    if output is not None and str(output) != "-":
        files |= {
            "output": output,
            "output's spend journal": journal_path(output),
            "output's lock": output_lock_path(output),
        }
    for name, other in files.items():
        if other is not None and str(other) != "-" and cache.resolve() == other.resolve():
            flag = name if " " in name else f"--{name}"
            raise UsageError(f"--cache {cache} is the {flag} file: give another --cache")


def check_output_path(path: Path, flag: str) -> None:
    """Refuse, before any call, an output path under a file (``notes.txt/answers.jsonl``):
    its folder could not be made, and the run would end in a traceback.

    Raises:
        UsageError: naming the flag, the path and the file in the way.
    """
    from ._output_lock import folder_problem

    problem = folder_problem(path.parent)
    if problem is not None:
        raise UsageError(f"{flag} {path}: {problem}: give a path in a folder")


def report_summary(summary: dict[str, Any], path: Path | None) -> None:
    """Write a command's JSON summary on standard error, where every summary goes (standard
    output is for answers), and to ``path`` if given."""
    text = orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode()
    sys.stderr.write("\n" + text + "\n")
    sys.stderr.flush()
    if path:
        path.write_text(text + "\n", encoding="utf-8")
