"""A real uvicorn server on 127.0.0.1, in a thread, for the official clients to call."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

KEY = "sk-serve-test"
#: The official clients' timeout in these tests (the SDK's default is 600 s): far more than
#: any reply takes on a loaded machine, far less than a hung test would hold the suite.
CLIENT_TIMEOUT_S = 60.0


def architecture(name: str = "one-call", *, samples: int = 1, **fields: Any) -> dict[str, Any]:
    """A one-layer architecture: one generator drawing ``samples`` samples."""
    component = {
        "type": "generator",
        "model": "sim-model",
        "model_type": "OpenAI_API",
        "max_tokens": 64,
        "samples": samples,
        **fields,
    }
    return {"name": name, "layers": [[component]]}


def ranked(name: str = "sample-rank") -> dict[str, Any]:
    """Three samples, then a ranker keeping one: the final layer selects."""
    return {
        "name": name,
        "layers": [
            [{"type": "generator", "model": "g", "model_type": "OpenAI_API", "samples": 3}],
            [{"type": "ranker", "model": "r", "model_type": "OpenAI_API", "top_k": 1}],
        ],
    }


@contextmanager
def running(app: Any, *, grace_s: int = 5) -> Iterator[str]:
    """Serve ``app`` on a free loopback port while the block runs; yields its root URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=grace_s,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def wait_until(condition: Any, *, timeout: float = 20.0) -> None:
    """Poll ``condition()`` until it is true (a generous bound: CPU is shared in CI)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        time.sleep(0.01)


@contextmanager
def simulator(**fields: Any) -> Iterator[Any]:
    """A simulated provider on its own thread and loop; yields the `SimulatedServer`."""
    import asyncio

    from archon_async.simulate import SimulatedServer, SimulationSettings

    server = SimulatedServer(SimulationSettings(**fields))
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(server.aclose())
        loop.close()

    thread = threading.Thread(target=main, name="simulator-test", daemon=True)
    thread.start()
    if not ready.wait(timeout=30):
        raise RuntimeError("the simulator did not start")
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
