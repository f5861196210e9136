"""Running ``archon-async`` in a child process, as a user would, for the tests.

Every test that starts the command line goes through here, so that a child that fails says
why: `expect_status` and `CliChild` put the child's exit status and the end of its standard
error into the assertion message (a bare ``assert returncode == 0`` once failed with nothing
to go on). A child started in the background writes its output to files, not to pipes: a
pipe nobody reads blocks a child once it holds 64 KiB, and a file can still be read after
the child was killed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI_MODULE = "archon_async.cli"
#: How much of a child's standard error an assertion message shows: its summary and the
#: traceback of its failure, which come last.
STDERR_SHOWN = 6000
#: The line the simulated provider's process writes once it accepts connections.
_LISTENING = re.compile(r"listening on (http://\S+)")


def cli_env(*, without_keys: bool = False, **extra: str) -> dict[str, str]:
    """This process's environment for a child, unbuffered, plus ``extra``; with
    ``without_keys``, no ``*_API_KEY`` or ``*_BASE_URL`` variable (so the child cannot reach
    a real provider)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **extra}
    if without_keys:
        env = {k: v for k, v in env.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    return env


def run_cli(
    *args: str,
    timeout: float = 240,
    env_without_keys: bool = False,
    module: str = CLI_MODULE,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``archon-async ARGS...`` (``python -m MODULE ARGS...``) from the repository root
    and wait for it; ``input`` is its standard input, ``env`` replaces the environment
    built by `cli_env`."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        input=input,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env if env is not None else cli_env(without_keys=env_without_keys),
        check=False,
    )


def described(done: subprocess.CompletedProcess[str]) -> str:
    """A child's exit status and the end of its standard error, for an assertion message."""
    stderr = done.stderr or ""
    cut = "..." if len(stderr) > STDERR_SHOWN else ""
    command = " ".join(map(str, done.args))
    return (
        f"`{command}` exited with status {done.returncode}; its standard error"
        f" ({len(stderr)} characters) ends:\n{cut}{stderr[-STDERR_SHOWN:]}"
    )


def expect_status(
    done: subprocess.CompletedProcess[str], status: int = 0
) -> subprocess.CompletedProcess[str]:
    """``done``, after failing the test (with `described`) unless it exited with ``status``."""
    if done.returncode != status:
        pytest.fail(f"expected exit status {status}: {described(done)}")
    return done


class CliChild:
    """A child process started in the background, its output written to files.

    Use it as a context manager, or end it with `finish`: a child still running at the end
    of the block is killed and waited for, so a failing test leaves no process behind.
    """

    def __init__(
        self, command: list[str], *, logs: Path, env: dict[str, str], **popen: Any
    ) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        number = len(list(logs.glob("child-*.stderr")))
        self._stdout_path = logs / f"child-{number}.stdout"
        self._stderr_path = logs / f"child-{number}.stderr"
        self._files: list[IO[bytes]] = [self._stdout_path.open("wb"), self._stderr_path.open("wb")]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._files[0], stderr=self._files[1], **popen
        )

    def __enter__(self) -> CliChild:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self._ended()

    def _ended(self) -> None:
        self.process.wait(timeout=60)
        for file in self._files:
            file.close()

    def finish(self, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        """Wait for the child to exit (killing it after ``timeout`` seconds) and return what
        it did, as `subprocess.run` would."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._ended()
        return self.outcome()

    def outcome(self) -> subprocess.CompletedProcess[str]:
        """What the child wrote so far, with its exit status (None while it runs)."""
        self.process.poll()
        return subprocess.CompletedProcess(
            self.process.args,
            self.process.returncode,  # None while it runs
            self._stdout_path.read_text(errors="replace"),
            self._stderr_path.read_text(errors="replace"),
        )

    def wait_until(self, ready: Callable[[], bool], timeout: float = 180) -> None:
        """Return once ``ready()``; fail the test (with the child's story) if the child ends
        first or ``ready()`` is still false after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None:
                pytest.fail(f"the child ended too early: {described(self.outcome())}")
            if time.monotonic() > deadline:
                pytest.fail(f"not ready after {timeout} s: {described(self.outcome())}")
            time.sleep(0.01)

    def kill(
        self, sig: int = signal.SIGKILL, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Send the child (which must still run) ``sig``, wait for it to exit and return
        what it did."""
        if self.process.poll() is not None:
            pytest.fail(f"the child ended before the signal {sig}: {described(self.outcome())}")
        self.process.send_signal(sig)
        return self.finish(timeout)


def start_cli(
    *args: str,
    logs: Path,
    env_without_keys: bool = False,
    module: str = CLI_MODULE,
    env: dict[str, str] | None = None,
    **popen: Any,
) -> CliChild:
    """Start ``archon-async ARGS...`` in the background, its standard output and error
    written to files in ``logs``; ``env`` replaces the environment built by `cli_env`."""
    return CliChild(
        [sys.executable, "-m", module, *args],
        logs=logs,
        env=env if env is not None else cli_env(without_keys=env_without_keys),
        **popen,
    )


@contextmanager
def simulator_process(*flags: str, logs: Path) -> Iterator[str]:
    """The simulated provider as a process of its own, on a free loopback port
    (``python -m archon_async.simulate --port 0 FLAGS...``), as a user runs a local server:
    yields its base URL once it says it listens; stopped with SIGTERM at the end."""
    command = [sys.executable, "-m", "archon_async.simulate", "--port", "0", *flags]
    with CliChild(command, logs=logs, env=cli_env()) as child:
        urls: list[str] = []

        def listening() -> bool:
            urls.extend(_LISTENING.findall(child.outcome().stdout))
            return bool(urls)

        child.wait_until(listening, timeout=60)
        try:
            yield urls[0]
        finally:
            if child.process.poll() is None:
                child.process.terminate()
            child.finish(timeout=30)
