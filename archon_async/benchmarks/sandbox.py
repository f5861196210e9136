"""Running untrusted Python (model-written code) in a subprocess with limits.

Each run gets:

* a fresh ``python -I`` (isolated mode: no user site, no PYTHON* variables, no script
  directory on ``sys.path``) with an almost empty environment (only ``PATH``);
* a new temporary directory as its working directory, removed afterwards;
* resource limits set before ``exec``: address space (``RLIMIT_AS``), CPU seconds
  (``RLIMIT_CPU``), size of written files (``RLIMIT_FSIZE``, which also bounds standard
  output and error at 64 MiB: a program that writes more is stopped), no core dumps.
  ``RLIMIT_NPROC`` is not set: it counts every process of the user, and root ignores it;
* its own session (process group), killed as a whole when the wall-clock timeout passes or
  the caller is cancelled;
* where ``unshare --pid`` works (root, or user namespaces allowed), its own PID namespace,
  so that nothing it starts outlives it: a small init process runs the program, and when
  the program ends (or the run is stopped) the kernel kills every other process of the
  namespace, including children that left the session with ``os.setsid()``. The program
  is not PID 1 itself, so signals and exit statuses behave as usual. Without it, such a
  child can outlive the run (the verdict is still the program's own: standard output and
  error go to files, so a lingering child cannot hold the run open);
* no network. Where ``unshare --net`` works, the program runs in a new network namespace
  with no interface up, so even 127.0.0.1 is unreachable. In any case a prelude replaces
  ``socket.socket`` (and ``_socket.socket``) with a class that refuses internet
  (AF_INET/AF_INET6) sockets, and ``socket.create_connection``; that prelude alone is a
  guard against accidents, not a security boundary, because code can reach the C level by
  other means. `Sandbox.isolation` says which mechanisms a run used.

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

# PID 1 of the program's PID namespace. It forks: the child goes on to run the program, so
# the program is not PID 1 (which would ignore signals it has no handler for). The init
# reaps whatever ends, writes the program's exit status to a file (unshare does not pass a
# signal death on intact) and exits, upon which the kernel kills the rest of the namespace.
_INIT = """\
import os as _sb_os
_sb_pid = _sb_os.fork()
if _sb_pid:
    while True:
        _sb_done, _sb_status = _sb_os.wait()
        if _sb_done == _sb_pid:
            break
    with open({status!r}, "w") as _sb_file:
        _sb_file.write(str(_sb_os.waitstatus_to_exitcode(_sb_status)))
    _sb_os._exit(0)
del _sb_os, _sb_pid
"""


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


async def _probe(command: list[str]) -> bool:
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            "true",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return False
    return await process.wait() == 0


@dataclass(frozen=True, slots=True)
class _Workspace:
    """A run's files: ``cwd`` holds only ``main.py``; ``io`` the standard streams."""

    root: Path

    @property
    def cwd(self) -> Path:
        return self.root / "run"

    @property
    def io(self) -> Path:
        return self.root / "io"

    def stream(self, name: str) -> Path:
        return self.io / name


def _prepare(code: str, stdin: str | None) -> _Workspace:
    workspace = _Workspace(Path(tempfile.mkdtemp(prefix="archon-sandbox-")))
    workspace.cwd.mkdir()
    workspace.io.mkdir()
    (workspace.cwd / "main.py").write_text(code, encoding="utf-8")
    workspace.stream("stdin").write_text(stdin or "", encoding="utf-8")
    return workspace


def _collect(workspace: _Workspace) -> tuple[bytes, bytes, int | None]:
    """The head of stdout, the tail of stderr, and the status the init recorded (if any)."""
    with workspace.stream("stdout").open("rb") as handle:
        out = handle.read(_KEEP_BYTES)
    with workspace.stream("stderr").open("rb") as handle:
        handle.seek(max(0, handle.seek(0, os.SEEK_END) - _KEEP_BYTES))
        err = handle.read()
    status_file = workspace.stream("status")
    text = status_file.read_text() if status_file.exists() else ""
    return out, err, int(text) if text.strip().lstrip("-").isdigit() else None


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


class Sandbox:
    """Runs Python programs with limits; reuse one for many runs (it probes isolation once).

    Args:
        timeout_s: wall-clock limit per run (the CPU limit is one second more).
        memory_mb: address-space limit per run.
        isolation: how network access is refused (see `Isolation`); a PID namespace is
            used whenever one is available, whatever this says.
    """

    def __init__(
        self, *, timeout_s: float = 10.0, memory_mb: int = 1024, isolation: Isolation = "auto"
    ) -> None:
        if timeout_s <= 0 or memory_mb <= 0:
            raise ConfigError("the sandbox needs a positive timeout_s and memory_mb")
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self._requested: Isolation = isolation
        self._prefix: list[str] = []
        self._netns = False
        self._pidns = False
        self._resolved = False

    def __repr__(self) -> str:
        return (
            f"Sandbox(timeout_s={self.timeout_s}, memory_mb={self.memory_mb}, "
            f"isolation={self._requested!r})"
        )

    @property
    def isolation(self) -> str:
        """The mechanisms in use once a run has happened, joined by ``+``: ``netns``,
        ``pidns``, ``socket-block`` (e.g. ``netns+pidns+socket-block``)."""
        if not self._resolved:
            return "unresolved"
        parts = (
            (["netns"] if self._netns else [])
            + (["pidns"] if self._pidns else [])
            + (["socket-block"] if self._requested != "netns" else [])
        )
        return "+".join(parts)

    async def _resolve(self) -> None:
        if self._resolved:
            return
        binary = shutil.which("unshare")
        want_net = self._requested != "socket-block"
        # Most containment first; --kill-child makes the namespace die with unshare itself.
        pid = ["--pid", "--fork", "--kill-child"]
        candidates = [(True, True, ["--net", *pid])] if want_net else []
        candidates += [(False, True, pid)]
        candidates += [(True, False, ["--net"])] if want_net else []
        for net, pidns, flags in candidates if binary else []:
            if await _probe([str(binary), *flags, "--"]):
                self._prefix = [str(binary), *flags, "--"]
                self._netns, self._pidns = net, pidns
                break
        if self._requested == "netns" and not self._netns:
            raise ConfigError("isolation='netns' needs a working 'unshare --net'")
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
        workspace = await asyncio.to_thread(_prepare, code, stdin)
        driver = _INIT.format(status=str(workspace.stream("status"))) if self._pidns else ""
        driver += ("" if self._requested == "netns" else _PRELUDE) + _RUN_MAIN
        try:
            return await self._launch(workspace, driver, limit)
        finally:
            # A few small files: removed inline so that cancellation cannot skip it.
            shutil.rmtree(workspace.root, ignore_errors=True)

    async def _launch(self, workspace: _Workspace, driver: str, limit: float) -> SandboxResult:
        # The standard streams are files, not pipes: a process that outlives the program
        # (where no PID namespace ends it) then cannot keep the run open.
        with contextlib.ExitStack() as files:
            stdin, stdout, stderr = (
                files.enter_context(workspace.stream(name).open(mode))
                for name, mode in (("stdin", "rb"), ("stdout", "wb"), ("stderr", "wb"))
            )
            try:
                process = await asyncio.create_subprocess_exec(
                    *self._prefix,
                    sys.executable,
                    "-I",
                    "-c",
                    driver,
                    stdin=stdin,
                    stdout=stdout,
                    stderr=stderr,
                    cwd=workspace.cwd,
                    env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
                    start_new_session=True,
                    preexec_fn=_limits(self.memory_mb, int(limit) + 1),
                )
            except OSError as exc:
                return SandboxResult(passed=False, status="error", stderr=str(exc))
        try:
            returncode, timed_out = await self._wait(process, limit)
        finally:
            if process.returncode is None:  # cancelled: leave nothing running
                _kill_group(process)
                await process.wait()
        out, err, recorded = await asyncio.to_thread(_collect, workspace)
        if recorded is not None and not timed_out:
            returncode = recorded  # the program's own status, as the PID namespace's init saw it
        return _result(returncode, out, err, timed_out)

    async def _wait(self, process: asyncio.subprocess.Process, limit: float) -> tuple[int, bool]:
        try:
            return await asyncio.wait_for(process.wait(), limit), False
        except TimeoutError:
            # The group holds unshare and the init (or the program): killing it ends the
            # namespace, and with it everything the program started.
            _kill_group(process)
            return await process.wait(), True


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
