"""The adapters on the real aiohttp transport, against a loopback server started here."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator

import anyio
import pytest
from aiohttp import web

from archon_async import Registry
from archon_async._dispatch import Dispatcher
from archon_async.core import (
    ChatRequest,
    MalformedResponseError,
    ProviderConnectionError,
    ProviderSettings,
    ProviderTimeoutError,
    RateLimitError,
)
from archon_async.providers.anthropic_messages import AnthropicMessagesProvider
from archon_async.providers.openai_chat import OpenAIChatProvider
from tests.local_http import serving
from tests.providers.helpers import SECRET, chat_request

CHAT_OK = {
    "choices": [{"message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1},
}


async def chat(request: web.Request) -> web.Response:
    body = await request.json()
    assert body["model"] == "m-1"
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    return web.json_response(CHAT_OK, headers={"x-ratelimit-remaining-requests": "9"})


async def messages(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response(
        {
            "content": [{"type": "text", "text": body["system"]}],
            "usage": {"input_tokens": 4, "output_tokens": 2},
        }
    )


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(30)
    return web.json_response(CHAT_OK)


async def trickle(request: web.Request) -> web.StreamResponse:
    # Headers at once, then a byte every 0.1 s: no single read waits long.
    reply = web.StreamResponse(headers={"content-type": "application/json"})
    await reply.prepare(request)
    for _ in range(100):
        await reply.write(b" ")
        await asyncio.sleep(0.1)
    return reply


async def gzipped(request: web.Request) -> web.Response:
    return web.Response(
        body=gzip.compress(json.dumps(CHAT_OK).encode()),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )


IN_FLIGHT = {"now": 0, "max": 0}


async def counted(request: web.Request) -> web.Response:
    IN_FLIGHT["now"] += 1
    IN_FLIGHT["max"] = max(IN_FLIGHT["max"], IN_FLIGHT["now"])
    await asyncio.sleep(0.02)
    IN_FLIGHT["now"] -= 1
    return web.json_response(CHAT_OK)


async def limited(request: web.Request) -> web.Response:
    # A 429 that echoes the key, as some gateways do: it must not reach the error.
    return web.json_response(
        {"error": {"message": f"Rate limit reached for key {SECRET}: slow down"}},
        status=429,
        headers={"retry-after": "7", "x-request-id": "req-1", "x-ratelimit-limit-requests": "60"},
    )


async def huge(request: web.Request) -> web.Response:
    return web.json_response({**CHAT_OK, "padding": "x" * 5000})


async def drop(request: web.Request) -> web.Response:
    assert request.transport is not None
    request.transport.close()
    await asyncio.sleep(30)
    return web.json_response(CHAT_OK)


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/slow/chat/completions", slow)
    app.router.add_post("/drop/chat/completions", drop)
    app.router.add_post("/trickle/chat/completions", trickle)
    app.router.add_post("/gzip/chat/completions", gzipped)
    app.router.add_post("/counted/chat/completions", counted)
    app.router.add_post("/limited/chat/completions", limited)
    app.router.add_post("/huge/chat/completions", huge)
    async with serving(app) as url:
        yield url


async def test_openai_adapter_over_aiohttp(server: str) -> None:
    provider = OpenAIChatProvider("vLLM", ProviderSettings(base_url=f"{server}/v1"))
    try:
        responses = [await provider.send(chat_request("vLLM"), api_key=SECRET) for _ in range(3)]
    finally:
        await provider.aclose()
    assert [r.text for r in responses] == ["pong"] * 3
    assert responses[0].headers == {"x-ratelimit-remaining-requests": "9"}


async def test_anthropic_adapter_over_aiohttp(server: str) -> None:
    provider = AnthropicMessagesProvider("Anthropic_API", ProviderSettings(base_url=server))
    try:
        response = await provider.send(chat_request("Anthropic_API"), api_key=SECRET)
    finally:
        await provider.aclose()
    assert response.text == "Be brief." and response.usage.output_tokens == 2


async def test_timeout_and_dropped_connection(server: str) -> None:
    settings = ProviderSettings(timeout_s=0.2)
    provider = OpenAIChatProvider("vLLM", settings)
    try:
        with pytest.raises(ProviderTimeoutError):
            await provider.send(chat_request("vLLM", base_url=f"{server}/slow"), api_key=SECRET)
        with pytest.raises(ProviderConnectionError) as caught:
            await provider.send(chat_request("vLLM", base_url=f"{server}/drop"), api_key=SECRET)
        assert not isinstance(caught.value, ProviderTimeoutError)
    finally:
        await provider.aclose()


async def test_the_timeout_bounds_the_whole_call_not_each_read(server: str) -> None:
    provider = OpenAIChatProvider("vLLM", ProviderSettings(timeout_s=0.5))
    try:
        with pytest.raises(ProviderTimeoutError):
            await provider.send(chat_request("vLLM", base_url=f"{server}/trickle"), api_key=SECRET)
    finally:
        await provider.aclose()


async def test_a_refused_connection_is_a_connection_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = OpenAIChatProvider("vLLM", ProviderSettings(base_url=f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(ProviderConnectionError) as caught:
            await provider.send(chat_request("vLLM"), api_key=SECRET)
    finally:
        await provider.aclose()
    assert not isinstance(caught.value, ProviderTimeoutError)
    assert "connection failed" in str(caught.value)


async def test_a_compressed_reply_is_decoded(server: str) -> None:
    provider = OpenAIChatProvider("vLLM", ProviderSettings(base_url=f"{server}/gzip"))
    try:
        response = await provider.send(chat_request("vLLM"), api_key=SECRET)
    finally:
        await provider.aclose()
    assert response.text == "pong"


async def test_an_error_status_is_read_as_before_the_lean_path(server: str) -> None:
    provider = OpenAIChatProvider("vLLM", ProviderSettings(base_url=f"{server}/limited"))
    try:
        with pytest.raises(RateLimitError) as caught:
            await provider.send(chat_request("vLLM"), api_key=SECRET)
    finally:
        await provider.aclose()
    error = caught.value
    assert error.status_code == 429 and error.retry_after == 7.0
    assert error.request_id == "req-1"
    assert error.headers == {
        "retry-after": "7",
        "x-request-id": "req-1",
        "x-ratelimit-limit-requests": "60",
    }
    assert "slow down" in str(error) and SECRET not in str(error) + (error.body or "")


async def test_a_reply_over_max_reply_bytes_is_refused(server: str) -> None:
    settings = ProviderSettings(base_url=f"{server}/huge", max_reply_bytes=2000)
    provider = OpenAIChatProvider("vLLM", settings)
    try:
        with pytest.raises(MalformedResponseError, match="max_reply_bytes"):
            await provider.send(chat_request("vLLM"), api_key=SECRET)
        settings = ProviderSettings(base_url=f"{server}/huge", max_reply_bytes=100_000)
        roomy = OpenAIChatProvider("vLLM", settings)
        assert (await roomy.send(chat_request("vLLM"), api_key=SECRET)).text == "pong"
        await roomy.aclose()
    finally:
        await provider.aclose()


async def test_the_pool_holds_at_most_max_concurrency_requests(server: str) -> None:
    IN_FLIGHT.update(now=0, max=0)
    settings = ProviderSettings(base_url=f"{server}/counted", max_concurrency=3)
    provider = OpenAIChatProvider("vLLM", settings)
    try:
        replies = await asyncio.gather(
            *(provider.send(chat_request("vLLM"), api_key=SECRET) for _ in range(12))
        )
    finally:
        await provider.aclose()
    assert [reply.text for reply in replies] == ["pong"] * 12
    assert IN_FLIGHT["max"] == 3


async def test_cancelling_a_call_in_flight_then_closing(server: str) -> None:
    registry = Registry.default()
    settings = {"vLLM": ProviderSettings(base_url=f"{server}/slow")}
    calls = Dispatcher(registry, settings=settings, environ={}, dotenv_path=None)
    request = ChatRequest(
        model="m-1", model_type="vLLM", messages=[{"role": "user", "content": "x"}]
    )
    with anyio.move_on_after(0.2) as scope:
        await calls.complete(request)
    assert scope.cancelled_caught
    assert calls.statistics()["vLLM"].limits.in_flight == 0
    await calls.aclose()
