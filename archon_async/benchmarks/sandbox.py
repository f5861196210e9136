"""Running untrusted Python (model-written code) isolated, with limits, to a verdict.

Each run is a fresh ``python -I`` (no user site, no ``PYTHON*`` variables) started by one of
the isolation backends of `archon_async.benchmarks._isolation` (bubblewrap, else util-linux
``unshare``): its own PID, network, IPC, UTS and mount namespaces (and user namespace for an
ordinary caller), a read-only system, a private size-limited scratch directory as the only
writable place, no network (not even the host's loopback), an allow-listed environment, no
inherited descriptors, no capabilities. Limits: wall clock (`Sandbox.timeout_s`, 3 s by
default as in human-eval, counted from the program's start, not the sandbox's), CPU time
(the wall clock rounded up, plus one second), address space, size of each written file
(16 MiB, which also bounds the captured output), open files (256) and processes
(`Sandbox.max_processes`). When the program ends, or the run is stopped,
everything it started ends with it (the PID namespace dies).

Where neither backend works (no user namespaces and not root, or not Linux), `Sandbox`
refuses with `SandboxUnavailableError`, unless it was built with ``allow_unsafe=True``: then
programs run as plain subprocesses with the limits above and a socket guard, and
`Sandbox.isolation` says ``none``.

A program checked by tests (`Sandbox.run` with ``tests=True``) passes only when every
statement ran: see `archon_async.benchmarks._sandbox_driver`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .._exceptions import ConfigError
from .._logging import get_logger
from . import _isolation
from ._isolation import SCRATCH, Launch
from ._sandbox_driver import DRIVER, SOCKET_GUARD
from ._sandbox_result import SandboxResult, SandboxStatus, verdict

__all__ = [
    "Isolation",
    "Sandbox",
    "SandboxResult",
    "SandboxStatus",
    "SandboxUnavailableError",
    "run_python",
]

log = get_logger(__name__)

#: ``auto``: bubblewrap if it works here, else util-linux ``unshare``; or one of them only.
Isolation = Literal["auto", "bwrap", "unshare"]

_KEEP_BYTES = 64 * 1024  # of stdout kept (head) and of stderr kept (tail)
_TAIL_BYTES = 4096  # of stdout read at the end, where the completion marker is
_FILE_LIMIT_BYTES = 16 * 1024 * 1024
_OPEN_FILES = 256
_PROBE_TIMEOUT_S = 60.0
_STARTUP_TIMEOUT_S = 120.0  # for the sandbox to start the program, before its own limit

_INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install "
    "bubblewrap) or allow user namespaces (sysctl kernel.unprivileged_userns_clone=1); or "
    "run model-written code without isolation, at your own risk, with "
)


class SandboxUnavailableError(ConfigError):
    """No isolation backend works on this machine and unsafe runs were not allowed.

    The message says what each backend answered and how to get one.
    """


def _limits(memory_mb: int, cpu_s: int) -> Callable[[], None]:
    def apply() -> None:  # runs in the child between fork and exec, inherited by all
        memory = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (_FILE_LIMIT_BYTES, _FILE_LIMIT_BYTES))
        resource.setrlimit(resource.RLIMIT_NOFILE, (_OPEN_FILES, _OPEN_FILES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


@dataclass(frozen=True, slots=True)
class _Workspace:
    """A run's host files: ``main.py``, the empty ``newroot``, the standard streams in
    ``io``, and ``run`` (the working directory when there is no isolation)."""

    root: Path

    @property
    def launch(self) -> Launch:
        return Launch(program=self.root / "run" / "main.py", newroot=self.root / "newroot")

    def stream(self, name: str) -> Path:
        return self.root / "io" / name


def _prepare(code: str, stdin: str | None) -> _Workspace:
    workspace = _Workspace(Path(tempfile.mkdtemp(prefix="archon-sandbox-")))
    for name in ("run", "newroot", "io"):
        (workspace.root / name).mkdir()
    program = workspace.launch.program
    program.write_text(code, encoding="utf-8")
    program.chmod(0o644)  # readable by the run's own user id (see _isolation.run_uid)
    workspace.stream("stdin").write_text(stdin or "", encoding="utf-8")
    return workspace


def _collect(workspace: _Workspace) -> tuple[bytes, bytes, bytes]:
    """The head and the tail of stdout, and the tail of stderr."""
    with workspace.stream("stdout").open("rb") as handle:
        head = handle.read(_KEEP_BYTES)
        handle.seek(max(0, handle.seek(0, os.SEEK_END) - _TAIL_BYTES))
        tail = handle.read()
    with workspace.stream("stderr").open("rb") as handle:
        handle.seek(max(0, handle.seek(0, os.SEEK_END) - _KEEP_BYTES))
        err = handle.read()
    return head, tail, err


async def _started(descriptor: int, timeout_s: float) -> bool:
    """Whether the driver wrote its start byte on the pipe ``descriptor`` (closed here)
    within ``timeout_s``; False when the pipe closed first (the sandbox failed to start)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    pipe = os.fdopen(descriptor, "rb", buffering=0)  # a pipe: no I/O here; the transport closes it
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns the result when a
        # cancellation arrives as the read completes, and the cancelled run would go on.
        async with asyncio.timeout(timeout_s):
            return bool(await reader.read(1))
    except TimeoutError:
        return False
    finally:
        transport.close()


def _kill_group(process: asyncio.subprocess.Process) -> None:
    # The group holds the backend's outer process; the namespace dies with it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


class Sandbox:
    """Runs Python programs isolated and limited; reuse one for many runs (it finds its
    isolation backend once, on the first run).

    Args:
        timeout_s: wall-clock limit per run, in seconds (human-eval's 3 s by default).
        memory_mb: address-space limit per process, in MiB.
        max_processes: processes and threads the run may have at once (a fork bomb stops
            there). Memory is limited per process: a run as a whole can reach
            ``max_processes * memory_mb`` before its time is up (a bound for all of it at
            once needs cgroups, which this sandbox does not manage).
        isolation: ``auto`` (bubblewrap, else ``unshare``), ``bwrap`` or ``unshare`` only.
        allow_unsafe: where no backend works, run without isolation instead of raising
            `SandboxUnavailableError` (``isolation`` then says ``none``).

    Raises:
        ConfigError: a limit that is not positive.
    """

    def __init__(
        self,
        *,
        timeout_s: float = 3.0,
        memory_mb: int = 1024,
        max_processes: int = 32,
        isolation: Isolation = "auto",
        allow_unsafe: bool = False,
    ) -> None:
        if timeout_s <= 0 or memory_mb <= 0 or max_processes < 4:
            raise ConfigError(
                "the sandbox needs a positive timeout_s and memory_mb, and max_processes >= 4"
            )
        if isolation not in ("auto", *_isolation.BACKENDS):
            raise ConfigError(f"isolation must be auto, bwrap or unshare, not {isolation!r}")
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.max_processes = max_processes
        self.allow_unsafe = allow_unsafe
        self._requested: Isolation = isolation
        self._backend: str | None = None
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    def __repr__(self) -> str:
        return (
            f"Sandbox(timeout_s={self.timeout_s}, memory_mb={self.memory_mb}, "
            f"max_processes={self.max_processes}, isolation={self.isolation!r})"
        )

    @property
    def isolation(self) -> str:
        """``bwrap``, ``unshare``, ``none`` (unsafe, allowed), or ``unresolved`` before the
        first run."""
        return self._backend or "unresolved"

    def describe(self) -> dict[str, Any]:
        """The isolation and limits, JSON-ready, for a run's summary."""
        return {
            "isolation": self.isolation,
            "timeout_s": self.timeout_s,
            "memory_mb": self.memory_mb,
            "max_processes": self.max_processes,
        }

    async def resolve(self) -> str:
        """Find the isolation backend (once) and return its name.

        Raises:
            SandboxUnavailableError: no backend works and ``allow_unsafe`` is False.
        """
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            self._lock = (loop, asyncio.Lock())
        async with self._lock[1]:
            if self._backend is None:
                self._backend = await self._find_backend()
                log.info("sandbox_isolation", isolation=self._backend)
        return self._backend

    async def _find_backend(self) -> str:
        wanted = _isolation.BACKENDS if self._requested == "auto" else (self._requested,)
        answers = []
        for backend in wanted:
            why = await self._probe(backend)
            if why is None:
                return backend
            answers.append(f"{backend}: {why}")
        if self.allow_unsafe:
            log.warning("sandbox_unsafe", reasons=answers)
            return "none"
        why = "no isolation for untrusted code works here (" + "; ".join(answers) + "): "
        raise SandboxUnavailableError(
            why + _INSTALL_HINT + "Sandbox(allow_unsafe=True)",
            cli_hint=why + _INSTALL_HINT + "--unsafe-no-sandbox",
        )

    async def _probe(self, backend: str) -> str | None:
        """None when ``backend`` runs a program here, else why not."""
        if backend == "bwrap" and shutil.which("bwrap") is None:
            return "bwrap is not installed"
        if backend == "unshare" and _isolation.unshare_tools() is None:
            return "util-linux unshare, mount, chroot or setpriv is missing"
        if backend == "bwrap" and os.geteuid() == 0 and shutil.which("setpriv") is None:
            return "setpriv (util-linux) is missing"
        result = await self._execute(backend, "pass", None, _PROBE_TIMEOUT_S, tests=True)
        if result.passed:
            return None
        return (result.stderr.strip().splitlines() or [result.detail])[-1][:200]

    async def run(
        self,
        code: str,
        *,
        stdin: str | None = None,
        timeout_s: float | None = None,
        tests: bool = False,
    ) -> SandboxResult:
        """Run ``code`` and report how it ended (never raises for the code itself).

        Args:
            code: the program.
            stdin: text fed to standard input (none: an empty input); not with ``tests``.
            timeout_s: overrides the sandbox's wall-clock limit for this run.
            tests: the program is a solution with its tests (HumanEval, MBPP): it runs as
                a module named ``__sandbox__`` (not ``__main__``) and passes only if every
                statement ran (see `_sandbox_driver`). Otherwise it runs as ``__main__``
                and passes on status 0.

        Raises:
            ConfigError: ``stdin`` with ``tests`` (a tested program's input is its marker).
            SandboxUnavailableError: on the first run, when there is no isolation (see
                `resolve`).
        """
        if tests and stdin is not None:
            raise ConfigError("a program run with tests=True reads no input: drop stdin")
        backend = await self.resolve()
        return await self._execute(backend, code, stdin, timeout_s or self.timeout_s, tests=tests)

    async def _execute(
        self, backend: str, code: str, stdin: str | None, limit: float, *, tests: bool
    ) -> SandboxResult:
        workspace = await asyncio.to_thread(_prepare, code, stdin)
        try:
            return await self._launch(backend, workspace, limit, tests)
        finally:
            # A few small files (the scratch directory itself is a tmpfs of the namespace):
            # removed inline so that cancellation cannot skip it.
            shutil.rmtree(workspace.root, ignore_errors=True)

    def _command(self, backend: str, workspace: _Workspace, tests: bool, started: int) -> list[str]:
        workdir = SCRATCH if backend != "none" else str(workspace.launch.program.parent)
        driver = DRIVER if backend != "none" else SOCKET_GUARD + DRIVER
        mode = "tests" if tests else "main"
        program = [sys.executable, "-I", "-c", driver, mode, workdir]
        program += [str(self.max_processes), str(started)]
        uid = _isolation.run_uid()
        if backend == "bwrap":
            binary, setpriv = str(shutil.which("bwrap")), shutil.which("setpriv")
            launch = workspace.launch
            return [*_isolation.bwrap_command(binary, launch, uid=uid, setpriv=setpriv), *program]
        if backend == "unshare":
            tools = _isolation.unshare_tools() or {}
            return _isolation.unshare_command(tools, workspace.launch, uid=uid, program=program)
        return program

    async def _start(
        self, backend: str, workspace: _Workspace, limit: float, tests: bool, started: int
    ) -> asyncio.subprocess.Process:
        command = self._command(backend, workspace, tests, started)
        workdir = SCRATCH if backend != "none" else str(workspace.launch.program.parent)
        with contextlib.ExitStack() as files:
            stdout, stderr = (
                files.enter_context(workspace.stream(name).open("wb"))
                for name in ("stdout", "stderr")
            )
            # With tests, standard input is a pipe holding only the marker: the program
            # cannot seek back to read it again. Otherwise the given input, from a file.
            stdin: Any = (
                asyncio.subprocess.PIPE
                if tests
                else files.enter_context(workspace.stream("stdin").open("rb"))
            )
            return await asyncio.create_subprocess_exec(
                *command,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                cwd=workspace.root,
                env=_isolation.environment(workdir),
                start_new_session=True,
                pass_fds=(started,),  # the driver closes it before the program runs
                preexec_fn=_limits(self.memory_mb, int(limit) + 1),
            )

    async def _launch(
        self, backend: str, workspace: _Workspace, limit: float, tests: bool
    ) -> SandboxResult:
        marker = secrets.token_hex(16) if tests else ""
        started_read, started_write = os.pipe()
        try:
            process = await self._start(backend, workspace, limit, tests, started_write)
        except OSError as exc:
            os.close(started_read)
            return SandboxResult(False, "error", stderr=str(exc), detail=str(exc))
        finally:
            os.close(started_write)
        began, timed_out = False, False
        try:
            if tests and process.stdin is not None:
                process.stdin.write(marker.encode() + b"\n")
                process.stdin.close()
            began = await _started(started_read, _STARTUP_TIMEOUT_S)
            if began:
                returncode, timed_out = await self._wait(process, limit)
            else:  # the sandbox failed (or took minutes) before the program began
                _kill_group(process)
                returncode = await process.wait()
        finally:
            if process.returncode is None:  # cancelled: leave nothing running
                _kill_group(process)
                await process.wait()
        head, tail, err = await asyncio.to_thread(_collect, workspace)
        if not began:
            stderr = err.decode("utf-8", "replace")
            why = (stderr.strip().splitlines() or ["no message"])[-1][:300]
            detail = f"the sandbox did not start the program: {why}"
            return SandboxResult(False, "error", stderr, "", returncode, detail)
        return verdict(returncode, head, tail, err, timed_out=timed_out, marker=marker, limit=limit)

    async def _wait(self, process: asyncio.subprocess.Process, limit: float) -> tuple[int, bool]:
        try:
            async with asyncio.timeout(limit):  # not wait_for: see `_started`
                return await process.wait(), False
        except TimeoutError:
            _kill_group(process)
            return await process.wait(), True


async def run_python(
    code: str,
    *,
    timeout_s: float = 3.0,
    memory_mb: int = 1024,
    stdin: str | None = None,
    tests: bool = False,
    isolation: Isolation = "auto",
    allow_unsafe: bool = False,
) -> SandboxResult:
    """Run one program in a fresh `Sandbox` (see `Sandbox.run`).

    Use a `Sandbox` directly to run many programs: it finds its backend only once.

    Raises:
        SandboxUnavailableError: there is no isolation here and ``allow_unsafe`` is False.
    """
    sandbox = Sandbox(
        timeout_s=timeout_s, memory_mb=memory_mb, isolation=isolation, allow_unsafe=allow_unsafe
    )
    return await sandbox.run(code, stdin=stdin, tests=tests)
