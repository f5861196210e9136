"""Running untrusted Python (model-written code) in a subprocess with limits.

Each run gets:

* a fresh ``python -I`` (isolated mode: no user site, no PYTHON* variables, no script
  directory on ``sys.path``) with an almost empty environment (only ``PATH``);
* a new temporary directory as its working directory, removed afterwards;
* resource limits set before ``exec``: address space (``RLIMIT_AS``), CPU seconds
  (``RLIMIT_CPU``), size of written files (``RLIMIT_FSIZE``), no core dumps. ``RLIMIT_NPROC``
  is not set: it counts every process of the user, and root ignores it;
* its own session (process group), killed as a whole when the wall-clock timeout passes or
  the caller is cancelled;
* no network. Where ``unshare --net`` works (root, or user namespaces allowed), the program
  runs in a new network namespace with no interface up, so even 127.0.0.1 is unreachable.
  In any case a prelude replaces ``socket.socket`` (and ``_socket.socket``) with a class that
  refuses internet (AF_INET/AF_INET6) sockets, and ``socket.create_connection``; that
  prelude alone is a guard against accidents, not a security boundary, because code can
  reach the C level by other means. `Sandbox.isolation` says which mechanism a run used.

This is the containment the HumanEval and MBPP harnesses rely on; it is not a defence
against code written to escape (use a container or VM for that).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from .._exceptions import ConfigError

__all__ = ["Isolation", "Sandbox", "SandboxResult", "SandboxStatus", "run_python"]

log = structlog.get_logger(__name__)

SandboxStatus = Literal["passed", "failed", "timeout", "memory", "error"]
#: ``auto``: a network namespace if ``unshare --net`` works, plus the socket prelude;
#: ``netns``: the namespace only (ConfigError if unavailable); ``socket-block``: the prelude only.
Isolation = Literal["auto", "netns", "socket-block"]

_KEEP_BYTES = 64 * 1024  # of stdout kept (head) and of stderr kept (tail)
_FILE_LIMIT_BYTES = 64 * 1024 * 1024

# socket.socket.__init__ calls _socket.socket.__init__ by module lookup, so replacing the C
# class covers both; sockets made from a file descriptor (socketpair, fromfd) stay allowed.
_PRELUDE = """\
import socket as _sb_socket, _socket as _sb_c
_sb_orig = _sb_c.socket
_sb_inet = (_sb_c.AF_INET, _sb_c.AF_INET6)
def _sb_refuse(*args, **kwargs):
    raise PermissionError(1, "network access is disabled in the sandbox")
class _SbSocket(_sb_orig):
    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if fileno is None and (family == -1 or family in _sb_inet):
            _sb_refuse()
        _sb_orig.__init__(self, family, type, proto, fileno)
_sb_c.socket = _sb_c.SocketType = _SbSocket
_sb_socket.create_connection = _sb_refuse
del _sb_socket, _sb_c
"""
_RUN_MAIN = "import runpy\nrunpy.run_path('main.py', run_name='__main__')\n"


@dataclass(frozen=True, slots=True)
class SandboxResult:
    """How a sandboxed run ended.

    Attributes:
        passed: the program exited with status 0 in time.
        status: ``passed``; ``failed`` (non-zero exit: an assertion, an exception, a syntax
            error); ``timeout`` (wall clock or CPU limit); ``memory`` (MemoryError or killed
            for memory); ``error`` (the sandbox itself could not run the program).
        stderr: the last 64 KiB of standard error (the traceback), decoded.
        stdout: the first 64 KiB of standard output, decoded.
        returncode: the exit status, negative for a signal; None if it never started.
    """

    passed: bool
    status: SandboxStatus
    stderr: str = ""
    stdout: str = ""
    returncode: int | None = None


def _limits(memory_mb: int, cpu_s: int) -> Callable[[], None]:
    def apply() -> None:  # runs in the child between fork and exec
        memory = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (_FILE_LIMIT_BYTES, _FILE_LIMIT_BYTES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


async def _probe_unshare(binary: str) -> bool:
    try:
        process = await asyncio.create_subprocess_exec(
            binary,
            "--net",
            "--",
            "true",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return False
    return await process.wait() == 0


async def _drain(stream: asyncio.StreamReader | None, *, tail: bool) -> bytes:
    """Read a pipe to its end, keeping only the head (or tail) so memory stays bounded."""
    if stream is None:
        return b""
    kept = b""
    while chunk := await stream.read(65536):
        kept += chunk
        if len(kept) > _KEEP_BYTES:
            kept = kept[-_KEEP_BYTES:] if tail else kept[:_KEEP_BYTES]
    return kept


def _prepare(code: str) -> str:
    workdir = tempfile.mkdtemp(prefix="archon-sandbox-")
    Path(workdir, "main.py").write_text(code, encoding="utf-8")
    return workdir


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


class Sandbox:
    """Runs Python programs with limits; reuse one for many runs (it probes isolation once).

    Args:
        timeout_s: wall-clock limit per run (the CPU limit is one second more).
        memory_mb: address-space limit per run.
        isolation: how network access is refused (see `Isolation`).
    """

    def __init__(
        self, *, timeout_s: float = 10.0, memory_mb: int = 1024, isolation: Isolation = "auto"
    ) -> None:
        if timeout_s <= 0 or memory_mb <= 0:
            raise ConfigError("the sandbox needs a positive timeout_s and memory_mb")
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self._requested: Isolation = isolation
        self._unshare: list[str] | None = None
        self._resolved = False

    def __repr__(self) -> str:
        return (
            f"Sandbox(timeout_s={self.timeout_s}, memory_mb={self.memory_mb}, "
            f"isolation={self._requested!r})"
        )

    @property
    def isolation(self) -> str:
        """``netns+socket-block``, ``netns`` or ``socket-block`` once a run has happened."""
        if not self._resolved:
            return "unresolved"
        parts = (["netns"] if self._unshare else []) + (
            ["socket-block"] if self._requested != "netns" else []
        )
        return "+".join(parts)

    async def _resolve(self) -> None:
        if self._resolved:
            return
        binary = shutil.which("unshare") if self._requested != "socket-block" else None
        usable = binary is not None and await _probe_unshare(binary)
        if self._requested == "netns" and not usable:
            raise ConfigError("isolation='netns' needs a working 'unshare --net'")
        self._unshare = [binary, "--net", "--"] if usable and binary else None
        self._resolved = True
        log.debug("sandbox_isolation", isolation=self.isolation)

    async def run(
        self, code: str, *, stdin: str | None = None, timeout_s: float | None = None
    ) -> SandboxResult:
        """Run ``code`` as ``__main__`` and report how it ended (never raises for the code).

        Args:
            code: the program.
            stdin: text fed to standard input (none: an empty input).
            timeout_s: overrides the sandbox's wall-clock limit for this run.
        """
        await self._resolve()
        limit = timeout_s or self.timeout_s
        driver = ("" if self._requested == "netns" else _PRELUDE) + _RUN_MAIN
        workdir = await asyncio.to_thread(_prepare, code)
        try:
            command = [*(self._unshare or []), sys.executable, "-I", "-c", driver]
            try:
                process = await asyncio.create_subprocess_exec(
                    *command,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    cwd=workdir,
                    env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
                    start_new_session=True,
                    preexec_fn=_limits(self.memory_mb, int(limit) + 1),
                )
            except OSError as exc:
                return SandboxResult(passed=False, status="error", stderr=str(exc))
            try:
                return await self._wait(process, stdin, limit)
            finally:
                if process.returncode is None:  # cancelled: leave nothing running
                    _kill_group(process)
                    await process.wait()
        finally:
            # A few small files: removed inline so that cancellation cannot skip it.
            shutil.rmtree(workdir, ignore_errors=True)

    async def _wait(
        self, process: asyncio.subprocess.Process, stdin: str | None, limit: float
    ) -> SandboxResult:
        async def feed() -> None:
            assert process.stdin is not None
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                process.stdin.write((stdin or "").encode())
                await process.stdin.drain()
            process.stdin.close()

        reading = asyncio.gather(
            _drain(process.stdout, tail=False), _drain(process.stderr, tail=True), feed()
        )
        timed_out = False
        try:
            out, err, _ = await asyncio.wait_for(asyncio.shield(reading), limit)
        except TimeoutError:
            timed_out = True
            _kill_group(process)
            try:
                # The group is dead, so the pipes close; a grandchild that left the group
                # could keep them open, hence the bound.
                out, err, _ = await asyncio.wait_for(reading, 5.0)
            except TimeoutError:
                out, err = b"", b""
        except BaseException:
            reading.cancel()  # cancelled by the caller: stop reading; run() kills the group
            raise
        returncode = await process.wait()
        return _result(returncode, out, err, timed_out)


def _result(returncode: int, out: bytes, err: bytes, timed_out: bool) -> SandboxResult:
    stderr = err.decode("utf-8", "replace")
    stdout = out.decode("utf-8", "replace")
    status: SandboxStatus
    if timed_out or returncode == -signal.SIGXCPU:
        status = "timeout"
    elif "MemoryError" in stderr or returncode == -signal.SIGKILL:
        status = "memory"
    elif returncode == 0:
        status = "passed"
    else:
        status = "failed"
    return SandboxResult(
        passed=status == "passed",
        status=status,
        stderr=stderr,
        stdout=stdout,
        returncode=returncode,
    )


async def run_python(
    code: str,
    *,
    timeout_s: float = 10.0,
    memory_mb: int = 1024,
    stdin: str | None = None,
    isolation: Isolation = "auto",
) -> SandboxResult:
    """Run one program in a fresh `Sandbox` (see the module docstring for the limits).

    Use a `Sandbox` directly to run many programs: it checks for ``unshare`` only once.
    """
    sandbox = Sandbox(timeout_s=timeout_s, memory_mb=memory_mb, isolation=isolation)
    return await sandbox.run(code, stdin=stdin)
