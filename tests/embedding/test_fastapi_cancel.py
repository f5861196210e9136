"""The README's cancellation recipe, served by a real ASGI server (uvicorn, in its own
process, on 127.0.0.1): a client that leaves stops the architecture, so the calls of its
later layers are never made."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli_process import simulator_process
from tests.conftest import ROOT
from tests.uvicorn_port import bound_port


def _start(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[str]:
    # Each call takes 1.5 s: the client leaves during the first layer.
    with simulator_process("--latency-ms", "1500", logs=tmp_path / "simulator") as url:
        yield url


@pytest.fixture
def app_url(simulator: str, tmp_path: Path) -> Iterator[str]:
    log = tmp_path / "uvicorn.log"
    env = {**os.environ, "ARCHON_SIMULATE_URL": simulator}
    process = _start(
        [sys.executable, "-m", "uvicorn", "fastapi_cancel:app", "--app-dir", "examples",
         "--host", "127.0.0.1", "--port", "0"],
        log,
        env,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{bound_port(log, process)}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _tasks(simulator: str) -> dict[str, int]:
    """What the simulator was asked, by task (ten samples may come as two requests of n=5)."""
    tasks = httpx.get(f"{simulator}/stats").json()["by_task"]
    assert isinstance(tasks, dict)
    return tasks


def test_a_client_that_leaves_stops_the_architecture(app_url: str, simulator: str) -> None:
    host, port = app_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as client:
        client.sendall(b"GET /answer?q=What%20is%2017%20%2A%2023%3F HTTP/1.1\r\nHost: app\r\n\r\n")
        deadline = time.monotonic() + 60
        while _tasks(simulator).get("generate", 0) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)  # the first layer's ten samples are on their way
    # The client left while they ran. The whole architecture would be done 3 x 1.5 s after.
    time.sleep(5)
    assert _tasks(simulator) == {"generate": 10}  # no ranker, no fuser: cancelled with it


def test_a_client_that_waits_gets_the_answer(app_url: str, simulator: str) -> None:
    reply = httpx.get(f"{app_url}/answer", params={"q": "What is 17 * 23?"}, timeout=120)
    assert reply.status_code == 200 and reply.text.strip(), reply
    tasks = _tasks(simulator)
    assert tasks["generate"] == 10 and tasks["rank"] >= 1 and tasks["fuse"] >= 1, tasks
