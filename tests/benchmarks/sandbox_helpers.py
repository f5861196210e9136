"""What the sandbox tests share: a sandbox per isolation backend, and process probes."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from archon_async.benchmarks import Sandbox, SandboxUnavailableError


async def resolved(backend: str, **limits: float) -> Sandbox:
    """A sandbox on ``backend`` whose backend has been found, or a skip saying why not."""
    sandbox = Sandbox(isolation=backend, **limits)  # type: ignore[arg-type]
    try:
        await sandbox.resolve()
    except SandboxUnavailableError as exc:  # depends on the machine: said, not hidden
        pytest.skip(f"{backend} cannot isolate programs on this machine: {exc}")
    assert sandbox.isolation == backend
    return sandbox


def processes_with(token: str) -> list[int]:
    """Host pids whose command line holds ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if token.encode() in command:
            found.append(int(entry.name))
    return found


async def wait_until_gone(token: str, seconds: float = 5.0) -> list[int]:
    """Polls until no host process carries ``token``; returns those left at the end."""
    deadline = time.monotonic() + seconds
    left = processes_with(token)
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        left = processes_with(token)
    return left


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
