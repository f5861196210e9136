"""The adapters on the real aiohttp transport, against a loopback server started here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import anyio
import pytest
from aiohttp import web

from archon_async import Registry
from archon_async._dispatch import Dispatcher
from archon_async.core import (
    ChatRequest,
    ProviderConnectionError,
    ProviderSettings,
    ProviderTimeoutError,
)
from providers.anthropic_messages import AnthropicMessagesProvider
from providers.openai_chat import OpenAIChatProvider
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
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


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
