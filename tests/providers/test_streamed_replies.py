"""Streamed replies of the OpenAI, Anthropic and Gemini adapters (SSE read as it arrives)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import respx

from archon_async.core import (
    MalformedResponseError,
    ProviderConnectionError,
    ProviderServerError,
    ProviderSettings,
    RateLimitError,
)
from archon_async.providers.anthropic_messages import AnthropicMessagesProvider
from archon_async.providers.google_gemini import GeminiProvider
from archon_async.providers.openai_chat import OpenAIChatProvider
from archon_async.simulate import SimulatedServer, SimulationSettings
from tests.providers.helpers import SECRET, chat_request


def sse(*events: Any, named: bool = False) -> bytes:
    """Server-sent events: JSON payloads (or raw strings), with ``event:`` lines if named."""
    out = b""
    for event in events:
        data = event if isinstance(event, str) else orjson.dumps(event).decode()
        name = f"event: {event['type']}\n" if named and isinstance(event, dict) else ""
        out += f"{name}data: {data}\n\n".encode()
    return out


def openai_chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> Any:
    delta = {} if content is None else {"content": content}
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "c", "model": "gpt-x", "choices": [choice], **extra}


class Collect:
    def __init__(self) -> None:
        self.pieces: list[str] = []

    async def __call__(self, text: str) -> None:
        self.pieces.append(text)


OPENAI_URL = "https://api.openai.com/v1/chat/completions"


async def test_openai_stream_hands_over_pieces_and_keeps_usage(router: respx.MockRouter) -> None:
    body = sse(
        openai_chunk(""),
        openai_chunk("The "),
        openai_chunk("answer."),
        openai_chunk(finish="stop"),
        {
            "id": "c",
            "model": "gpt-x",
            "choices": [],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2},
        },
        "[DONE]",
    )
    route = router.post(OPENAI_URL).respond(
        200, content=body, headers={"content-type": "text/event-stream", "x-request-id": "r1"}
    )
    provider = OpenAIChatProvider("OpenAI_API", ProviderSettings())
    collect = Collect()
    response = await provider.stream(chat_request("OpenAI_API"), api_key=SECRET, on_delta=collect)
    await provider.aclose()
    sent = orjson.loads(route.calls.last.request.content)
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert route.calls.last.request.headers["accept"] == "text/event-stream"
    assert collect.pieces == ["The ", "answer."]
    assert response.text == "The answer." and response.finish_reason == "stop"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (9, 2)
    assert response.model == "gpt-x" and response.headers == {"x-request-id": "r1"}


async def test_openai_stream_errors(router: respx.MockRouter) -> None:
    provider = OpenAIChatProvider("OpenAI_API", ProviderSettings())
    request = chat_request("OpenAI_API")
    router.post(OPENAI_URL).respond(
        429, json={"error": {"message": f"slow down {SECRET}"}}, headers={"retry-after": "3"}
    )
    with pytest.raises(RateLimitError) as limited:
        await provider.stream(request, api_key=SECRET, on_delta=Collect())
    assert limited.value.retry_after == 3 and SECRET not in str(limited.value.body)

    router.post(OPENAI_URL).respond(200, content=sse(openai_chunk("half ")))
    with pytest.raises(ProviderConnectionError, match="ended before the reply was complete"):
        await provider.stream(request, api_key=SECRET, on_delta=Collect())

    in_stream = {"error": {"message": "overloaded", "type": "server_error"}}
    router.post(OPENAI_URL).respond(200, content=sse(openai_chunk("a "), in_stream))
    with pytest.raises(ProviderServerError, match="in the stream: overloaded"):
        await provider.stream(request, api_key=SECRET, on_delta=Collect())

    router.post(OPENAI_URL).respond(200, content=b"data: {not json\n\n")
    with pytest.raises(MalformedResponseError):
        await provider.stream(request, api_key=SECRET, on_delta=Collect())
    await provider.aclose()


ANTHROPIC_URL = "https://api.anthropic.com/v1/messages"


async def test_anthropic_stream_reads_its_named_events(router: respx.MockRouter) -> None:
    events = sse(
        {
            "type": "message_start",
            "message": {"model": "claude-x", "usage": {"input_tokens": 11, "output_tokens": 1}},
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Four"},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "."}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 3},
        },
        {"type": "message_stop"},
        named=True,
    )
    route = router.post(ANTHROPIC_URL).respond(200, content=events)
    provider = AnthropicMessagesProvider("Anthropic_API", ProviderSettings())
    collect = Collect()
    response = await provider.stream(
        chat_request("Anthropic_API"), api_key=SECRET, on_delta=collect
    )
    assert orjson.loads(route.calls.last.request.content)["stream"] is True
    assert route.calls.last.request.headers["x-api-key"] == SECRET
    assert collect.pieces == ["Four", "."] and response.text == "Four."
    assert (response.usage.input_tokens, response.usage.output_tokens) == (11, 3)
    assert response.finish_reason == "end_turn" and response.model == "claude-x"

    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    router.post(ANTHROPIC_URL).respond(200, content=sse(overloaded, named=True))
    with pytest.raises(ProviderServerError) as failed:
        await provider.stream(chat_request("Anthropic_API"), api_key=SECRET, on_delta=Collect())
    assert failed.value.status_code == 529
    await provider.aclose()


async def test_gemini_streams_from_stream_generate_content(router: respx.MockRouter) -> None:
    def part(text: str, **extra: Any) -> Any:
        candidate = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        return {"candidates": [{**candidate, **extra.pop("candidate", {})}], **extra}

    usage = {"promptTokenCount": 5, "candidatesTokenCount": 2}
    events = sse(
        part("Two "), part("plus two.", candidate={"finishReason": "STOP"}, usageMetadata=usage)
    )
    url = "https://generativelanguage.googleapis.com/v1beta/models/gemini-x:streamGenerateContent"
    route = router.post(url, params={"alt": "sse"}).respond(200, content=events)
    provider = GeminiProvider("Google_API", ProviderSettings())
    collect = Collect()
    response = await provider.stream(
        chat_request("Google_API", model="gemini-x"), api_key=SECRET, on_delta=collect
    )
    await provider.aclose()
    assert route.called and route.calls.last.request.headers["x-goog-api-key"] == SECRET
    assert collect.pieces == ["Two ", "plus two."] and response.text == "Two plus two."
    assert (response.usage.input_tokens, response.usage.output_tokens) == (5, 2)
    assert response.finish_reason == "STOP"


@pytest.mark.parametrize(
    ("provider_class", "model_type", "model"),
    [
        (OpenAIChatProvider, "OpenAI_API", "gpt-4o"),
        (AnthropicMessagesProvider, "Anthropic_API", "claude-3-5-sonnet-20241022"),
        (GeminiProvider, "Google_API", "gemini-1.5-pro"),
    ],
)
async def test_pieces_arrive_while_the_provider_is_still_writing(
    provider_class: Any, model_type: str, model: str
) -> None:
    # Through the real aiohttp transport against the simulator, which spaces its pieces:
    # the first piece is handed over while the simulator is still serving the request.
    settings = SimulationSettings(chunk_interval_s=0.02, reply_tokens=8)
    async with SimulatedServer(settings) as sim:
        provider = provider_class(
            model_type,
            ProviderSettings(
                base_url=sim.base_url if model_type != "OpenAI_API" else sim.openai_base_url
            ),
        )
        seen_in_flight: list[int] = []
        pieces: list[str] = []

        async def on_delta(text: str) -> None:
            seen_in_flight.append(sim.stats().in_flight)
            pieces.append(text)

        request = chat_request(model_type, model=model, max_tokens=None)
        response = await provider.stream(request, api_key="k", on_delta=on_delta)
        await provider.aclose()
        stats = sim.stats()
    assert len(pieces) > 3 and "".join(pieces) == response.text
    assert seen_in_flight[0] == 1 and stats.in_flight == 0 and stats.replies == 1
    assert response.usage.output_tokens > 0 and response.usage.input_tokens > 0
