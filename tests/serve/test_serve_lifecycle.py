"""Mounting in FastAPI, disconnects that cancel runs, and a graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from fastapi import FastAPI

from archon_async.serve import create_app
from archon_async.serve._server import _DrainingServer
from tests.serve.conftest import Clients
from tests.serve.serve_helpers import KEY, architecture, running, simulator, wait_until

QUESTION = [{"role": "user", "content": "What is 2 + 2?"}]


def test_mounted_inside_a_fastapi_app(clients: Clients) -> None:
    archon = create_app([architecture()], api_keys=[KEY], simulate=True)
    host = FastAPI(lifespan=archon.state.archon.lifespan)

    @host.get("/own")
    async def own() -> dict[str, str]:
        return {"app": "host"}

    host.mount("/archon", archon)
    with running(host) as root:
        assert httpx.get(f"{root}/own").json() == {"app": "host"}
        sync = clients(f"{root}/archon")
        assert [model.id for model in sync.models.list()] == ["one-call"]
        answer = sync.chat.completions.create(model="one-call", messages=QUESTION)
        assert answer.choices[0].message.content
        pieces = sync.chat.completions.create(model="one-call", messages=QUESTION, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in pieces if c.choices)
        assert httpx.get(f"{root}/archon/ready").json()["status"] == "ready"
    assert not archon.state.archon.engines["one-call"].is_open  # closed by the host's lifespan


def test_mounted_without_lifespan_opens_on_first_request(clients: Clients) -> None:
    archon = create_app([architecture()], simulate=True)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await archon.state.archon.aclose()  # the host closes what opened on first use

    host = FastAPI(lifespan=lifespan)
    host.mount("/archon", archon)
    with running(host) as root:
        answer = clients(f"{root}/archon", "none").chat.completions.create(
            model="one-call", messages=QUESTION
        )
        assert answer.choices[0].message.content
        assert archon.state.archon.engines["one-call"].is_open
    assert not archon.state.archon.engines["one-call"].is_open


@pytest.mark.parametrize("stream", [False, True])
async def test_a_client_that_disconnects_cancels_its_calls(stream: bool) -> None:
    # The provider takes 30 s to answer; the client gives up after the call has started.
    with simulator(latency_s=30.0) as sim:
        app = create_app([architecture()], simulate=sim.base_url)
        with running(app) as root:
            client = openai.AsyncOpenAI(base_url=f"{root}/v1", api_key="x", max_retries=0)
            request = asyncio.ensure_future(
                client.chat.completions.create(model="one-call", messages=QUESTION, stream=stream)
            )
            await _until(lambda: sim.stats().in_flight == 1)
            started = time.monotonic()
            request.cancel()  # closes the connection
            await asyncio.gather(request, return_exceptions=True)
            # The run is cancelled, which closes its call: the simulator sees it end.
            await _until(lambda: sim.stats().in_flight == 0)
            assert time.monotonic() - started < 25
            assert sim.stats().replies == 0
            await client.close()


async def _until(condition: Any) -> None:
    deadline = time.monotonic() + 20.0
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.01)


def _serve_in_thread(app: Any, grace_s: int) -> tuple[_DrainingServer, threading.Thread, str]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=grace_s
    )
    server = _DrainingServer(config, app.state.archon)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


def test_shutdown_lets_requests_in_flight_finish(clients: Clients) -> None:
    with simulator(latency_s=1.0) as sim:
        app = create_app([architecture()], simulate=sim.base_url)
        server, thread, root = _serve_in_thread(app, grace_s=20)
        outcome: list[Any] = []
        sync = clients(root, "none")

        def ask() -> None:
            outcome.append(sync.chat.completions.create(model="one-call", messages=QUESTION))

        asking = threading.Thread(target=ask)
        asking.start()
        wait_until(lambda: sim.stats().in_flight == 1)
        server.handle_exit(15, None)  # SIGTERM
        assert app.state.archon.draining
        asking.join(30)
        thread.join(30)
    assert outcome and outcome[0].choices[0].message.content  # finished within the grace
    assert not thread.is_alive()


def test_shutdown_cancels_what_outlives_the_grace(clients: Clients) -> None:
    with simulator(latency_s=30.0) as sim:
        app = create_app([architecture()], simulate=sim.base_url)
        server, thread, root = _serve_in_thread(app, grace_s=1)
        failures: list[BaseException] = []
        sync = clients(root, "none")

        def ask() -> None:
            try:
                sync.chat.completions.create(model="one-call", messages=QUESTION)
            except openai.APIError as exc:
                failures.append(exc)

        asking = threading.Thread(target=ask)
        asking.start()
        wait_until(lambda: sim.stats().in_flight == 1)
        server.handle_exit(15, None)
        thread.join(30)
        asking.join(30)
        wait_until(lambda: sim.stats().in_flight == 0)  # the call was cancelled, not left
        assert sim.stats().replies == 0
    assert not thread.is_alive()
    (failure,) = failures
    assert isinstance(failure, openai.APIStatusError) and failure.status_code == 503
    assert isinstance(failure.body, dict) and failure.body["code"] == "server_shutting_down"


def test_readiness_turns_503_while_draining() -> None:
    app = create_app([architecture()], simulate=True)
    with running(app) as root:
        assert httpx.get(f"{root}/ready").status_code == 200
        app.state.archon.draining = True
        reply = httpx.get(f"{root}/ready")
        assert reply.status_code == 503 and reply.json() == {"status": "draining"}
        assert httpx.get(f"{root}/health").status_code == 200
