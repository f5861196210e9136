"""A real redis-server for the tests of limits shared by processes."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a redis-server started for the test on a free loopback port, with
    timeouts a loaded machine does not reach."""
    binary = shutil.which("redis-server")
    if binary is None:  # .ci/run installs it; a bare machine may not have it
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    folder = tmp_path_factory.mktemp("redis")
    # A port probed free can be bound by another suite's server before redis binds it
    # (redis then exits: "address already in use"); another port is tried then.
    for _ in range(5):
        port = _free_port()
        server = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if _answers(port, server):
            break
        server.terminate()
        server.wait(timeout=10)
    else:
        raise RuntimeError("redis-server did not start on any of 5 free ports")
    try:
        # redis-py gives up connecting, or on a reply, after 5 s: a test's processes and
        # this server, starved on a loaded machine, took longer (a batch stopped on
        # "Timeout connecting to server"). A server that is gone still fails at once.
        yield f"redis://127.0.0.1:{port}/0?socket_connect_timeout=60&socket_timeout=60"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _answers(port: int, server: subprocess.Popen[bytes]) -> bool:
    """Whether redis on ``port`` answers PING within 10 s (False: it ended, or too slow)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False
