"""Every refusal in OpenAI's error shape, with its status, as the openai client sees it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from aiohttp import web

from archon_async import ComponentError, Engine, Registry
from archon_async.core import ComponentContext, ComponentSpec, State, StateUpdate
from archon_async.serve import create_app
from tests.serve.conftest import Clients
from tests.serve.serve_helpers import KEY, architecture, running, simulator, wait_until

QUESTION = [{"role": "user", "content": "Hello?"}]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    app = create_app([architecture()], api_keys=[KEY], simulate=True, max_body_bytes=4096)
    with running(app) as root:
        yield root


def assert_shape(body: Any, *, type: str, code: str | None = None) -> None:
    """OpenAI's error object: message, type, param and code, nothing else."""
    assert isinstance(body, dict) and set(body) == {"message", "type", "param", "code"}
    assert body["message"] and body["type"] == type and body["code"] == code


def test_missing_and_wrong_keys_are_401(url: str, clients: Clients) -> None:
    with pytest.raises(openai.AuthenticationError) as wrong:
        clients(url, "sk-wrong").chat.completions.create(model="one-call", messages=QUESTION)
    assert wrong.value.status_code == 401
    assert_shape(wrong.value.body, type="invalid_request_error", code="invalid_api_key")
    assert "sk-wrong" not in str(wrong.value.body)
    bare = httpx.post(f"{url}/v1/chat/completions", json={"model": "one-call"})
    assert bare.status_code == 401 and bare.headers["www-authenticate"].startswith("Bearer")
    assert_shape(bare.json()["error"], type="invalid_request_error")
    basic = httpx.get(f"{url}/v1/models", headers={"authorization": f"Basic {KEY}"})
    assert basic.status_code == 401
    # Health and readiness are for orchestrators: no key needed.
    assert httpx.get(f"{url}/health").json() == {"status": "ok"}
    assert httpx.get(f"{url}/ready").json() == {"status": "ready", "models": ["one-call"]}


def test_unknown_model_is_404(url: str, clients: Clients) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        clients(url).chat.completions.create(model="gpt-4o", messages=QUESTION)
    assert_shape(caught.value.body, type="invalid_request_error", code="model_not_found")
    assert "one-call" in caught.value.message  # it names what is served
    with pytest.raises(openai.NotFoundError):
        clients(url).models.retrieve("gpt-4o")
    unknown = httpx.get(f"{url}/v1/nothing-here", headers={"authorization": f"Bearer {KEY}"})
    assert unknown.status_code == 404
    assert_shape(unknown.json()["error"], type="invalid_request_error", code="unknown_url")


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        ({"messages": QUESTION, "n": 0}, "n"),
        ({"messages": QUESTION, "temperature": 3}, "temperature"),
        ({"messages": QUESTION, "tools": [{"type": "function"}]}, "tools"),
        ({"messages": QUESTION, "stream": "yes"}, "stream"),
        ({"messages": QUESTION, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"messages": QUESTION, "stop": [1]}, "stop"),
        ({"messages": QUESTION, "stop": [""]}, "stop"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "messages"),
        ({"messages": QUESTION, "top_p": 1.5}, "top_p"),
        ({"messages": QUESTION, "seed": 1.5}, "seed"),
    ],
)
def test_bad_requests_are_400_naming_the_field(
    url: str, fields: dict[str, Any], param: str, clients: Clients
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        clients(url).chat.completions.create(model="one-call", **fields)
    assert_shape(caught.value.body, type="invalid_request_error")
    assert isinstance(caught.value.body, dict) and caught.value.body["param"] == param


@pytest.mark.parametrize("seed", ["12345678901234567890123", "-9223372036854775809"])
def test_a_seed_out_of_range_is_refused_saying_the_range(url: str, seed: str) -> None:
    # A 23-digit seed reaches the server as a float from the JSON decoder: it was refused
    # as "'seed' must be an integer", which it is.
    auth = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    body = '{"model": "one-call", "messages": [{"role": "user", "content": "Hi"}], '
    body += f'"seed": {seed}}}'
    refused = httpx.post(f"{url}/v1/chat/completions", content=body.encode(), headers=auth)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert_shape(error, type="invalid_request_error")
    assert error["param"] == "seed"
    assert "from -9223372036854775808 to 9223372036854775807" in error["message"]
    top = body.replace(seed, "9223372036854775807")
    assert httpx.post(f"{url}/v1/chat/completions", content=top.encode(), headers=auth).is_success


def test_body_not_json_is_400_and_too_large_is_413(url: str, clients: Clients) -> None:
    auth = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    broken = httpx.post(f"{url}/v1/chat/completions", content=b"{nope", headers=auth)
    assert broken.status_code == 400
    assert_shape(broken.json()["error"], type="invalid_request_error")
    huge = [{"role": "user", "content": "x" * 5000}]
    with pytest.raises(openai.APIStatusError) as caught:
        clients(url).chat.completions.create(model="one-call", messages=huge)
    assert caught.value.status_code == 413
    assert_shape(caught.value.body, type="invalid_request_error", code="request_too_large")
    # Without a content-length (chunked), the limit holds as the body is read.
    chunked = httpx.post(
        f"{url}/v1/chat/completions", content=iter([b"x" * 3000, b"y" * 3000]), headers=auth
    )
    assert chunked.status_code == 413


def test_concurrent_requests_over_the_key_limit_are_429(clients: Clients) -> None:
    with simulator(latency_s=1.5) as sim:
        app = create_app(
            [architecture()],
            api_keys=[KEY, "sk-other"],
            simulate=sim.base_url,
            max_concurrent_per_key=1,
        )
        with running(app) as root:
            slow = threading.Thread(
                target=lambda: clients(root).chat.completions.create(
                    model="one-call", messages=QUESTION
                )
            )
            slow.start()
            wait_until(lambda: sim.stats().in_flight == 1)
            with pytest.raises(openai.RateLimitError) as caught:
                clients(root).chat.completions.create(model="one-call", messages=QUESTION)
            assert_shape(caught.value.body, type="requests", code="rate_limit_exceeded")
            # The limit is per key: another key is served meanwhile.
            other = clients(root, "sk-other").chat.completions.create(
                model="one-call", messages=QUESTION
            )
            assert other.choices[0].message.content
            slow.join()


def test_failed_provider_is_502_and_failed_architecture_500(clients: Clients) -> None:
    with simulator(fault_rate=1.0, faults=["5xx"]) as sim:
        engine = Engine(
            architecture("upstream"),
            simulate=sim.base_url,
            providers={"OpenAI_API": {"max_retries": 0}},
        )
        app = create_app([engine, _broken_engine()])
        with running(app) as root:
            sync = clients(root, "none")
            with pytest.raises(openai.APIStatusError) as upstream:
                sync.chat.completions.create(model="upstream", messages=QUESTION)
            assert upstream.value.status_code == 502
            expected = {"type": "upstream_error", "code": "upstream_provider_server"}
            assert_shape(upstream.value.body, **expected)
            with pytest.raises(openai.InternalServerError) as broken:
                sync.chat.completions.create(model="broken", messages=QUESTION)
            assert broken.value.status_code == 500
            assert_shape(broken.value.body, type="server_error")
            assert "cannot do its job" in broken.value.message
            # The failed run's trace is kept, with the calls it made.
            trace_id = upstream.value.response.headers["x-archon-trace-id"]
            trace = httpx.get(f"{root}/v1/traces/{trace_id}").json()
            assert trace["choices"][0]["trace"]["totals"]["failed_calls"] == 1


class _Broken:
    def __init__(self, spec: ComponentSpec) -> None:
        self.spec = spec

    async def run(self, ctx: ComponentContext, state: State) -> StateUpdate:
        raise ComponentError("this component cannot do its job")


def _broken_engine() -> Engine:
    registry = Registry.default().add_component("broken", _Broken)
    config = {"name": "broken", "layers": [[{"type": "broken", "model": "x"}]]}
    return Engine(config, registry=registry)


def test_provider_keys_never_reach_the_client() -> None:
    secret = "sk-provider-secret-0123456789"

    async def echo(request: web.Request) -> web.Response:
        # A provider that quotes the key it was sent in its error, as some do.
        said = request.headers.get("authorization", "")
        return web.json_response({"error": {"message": f"model gone for {said}"}}, status=404)

    upstream = web.Application()
    upstream.router.add_post("/v1/chat/completions", echo)
    with _aiohttp_running(upstream) as base:
        engine = Engine(
            architecture("leaky"),
            keys={"OPENAI_API_KEY": [secret]},
            providers={"OpenAI_API": {"base_url": f"{base}/v1"}},
        )
        with running(create_app([engine])) as root:
            reply = httpx.post(
                f"{root}/v1/chat/completions", json={"model": "leaky", "messages": QUESTION}
            )
            trace = httpx.get(f"{root}/v1/traces/{reply.headers['x-archon-trace-id']}")
    assert reply.status_code == 502
    assert "[redacted]" in reply.text
    assert secret not in reply.text and secret not in trace.text


def _aiohttp_running(app: web.Application) -> Any:
    import asyncio
    import threading
    from contextlib import contextmanager

    @contextmanager
    def run() -> Iterator[str]:
        loop = asyncio.new_event_loop()
        runner = web.AppRunner(app)
        ready = threading.Event()
        port: list[int] = []

        def main() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            port.append(runner.addresses[0][1])
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        thread = threading.Thread(target=main, daemon=True)
        thread.start()
        ready.wait(30)
        try:
            yield f"http://127.0.0.1:{port[0]}"
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(30)

    return run()
