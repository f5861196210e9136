"""How a sandboxed run ended: the verdict read from its status, output and marker."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Literal

__all__ = ["SandboxResult", "SandboxStatus", "verdict"]

SandboxStatus = Literal["passed", "failed", "timeout", "memory", "error"]


@dataclass(frozen=True, slots=True)
class SandboxResult:
    """How a sandboxed run ended.

    Attributes:
        passed: the program ran to its end in time: status 0, and for a run with
            ``tests=True`` the completion marker after every statement.
        status: ``passed``; ``failed`` (an assertion, an exception, a syntax error, a non-zero
            status, an exit before the tests ended); ``timeout`` (wall clock or CPU limit);
            ``memory`` (MemoryError or killed for memory); ``error`` (the sandbox itself
            could not run the program).
        stderr: the last 64 KiB of standard error (the traceback), decoded.
        stdout: the first 64 KiB of standard output, decoded (without the marker).
        returncode: the exit status (128 + N, or -N, for signal N); None if it never started.
        detail: why, in a line.
    """

    passed: bool
    status: SandboxStatus
    stderr: str = ""
    stdout: str = ""
    returncode: int | None = None
    detail: str = ""


def _signal_of(returncode: int) -> int | None:
    """The signal that ended the program: -N from Python, 128 + N from the backends."""
    if returncode < 0:
        return -returncode
    if 128 < returncode <= 128 + 64:
        return returncode - 128
    return None


def verdict(
    returncode: int,
    head: bytes,
    tail: bytes,
    err: bytes,
    *,
    timed_out: bool,
    marker: str,
    limit: float,
) -> SandboxResult:
    """The result of a run from what it left.

    Args:
        returncode: the exit status of the backend's outer process.
        head: the first bytes of standard output; ``tail``: its last bytes.
        err: the last bytes of standard error.
        timed_out: the wall-clock limit was reached (and the run killed).
        marker: the completion marker the driver writes after the tests ("" without tests).
        limit: the wall-clock limit, in seconds (for the detail).
    """
    stderr = err.decode("utf-8", "replace")
    lines = tail.decode("utf-8", "replace").rstrip("\n").rsplit("\n", 1)
    completed = bool(marker) and lines[-1] == marker
    stdout = head.decode("utf-8", "replace")
    if completed:  # the marker is ours, not the program's output
        stdout = stdout[: stdout.rfind(marker)].rstrip("\n") if marker in stdout else stdout
    last = (stderr.strip().splitlines() or [""])[-1][:300]
    number = _signal_of(returncode)
    status: SandboxStatus
    if timed_out or number == signal.SIGXCPU:
        status, detail = "timeout", f"over the time limit of {limit:g} s"
    elif "MemoryError" in last:
        status, detail = "memory", last
    elif number == signal.SIGXFSZ or "[Errno 27]" in last:  # EFBIG (Python ignores SIGXFSZ)
        status, detail = "failed", "wrote a file or output over the size limit"
    elif number is not None:
        status, detail = "failed", f"killed by signal {number}"
    elif returncode != 0:
        status, detail = "failed", last or f"exit status {returncode}"
    elif marker and not completed:
        status = "failed"
        detail = "exited with status 0 before every test ran (no completion marker)"
    else:
        status, detail = "passed", ""
    return SandboxResult(
        passed=status == "passed",
        status=status,
        stderr=stderr,
        stdout=stdout,
        returncode=returncode,
        detail=detail,
    )
