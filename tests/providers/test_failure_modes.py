"""Failure modes people report, replayed with stubs that answer as the providers do.

Empty replies that say why (one attempt, an error naming the reason and the fix, the billed
tokens counted), Gemini's wait given only in the body, waits longer than a call can afford
(fail fast, stop a batch, no silent hour), and waits made visible in the trace and the log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import respx
from aiohttp import web
from structlog.testing import capture_logs

from archon_async import (
    Engine,
    IncompleteReplyError,
    LayerFailedGroup,
    ProviderSettings,
    RateLimitError,
    RateLimitResetError,
    Registry,
)
from archon_async._batch_answer import is_fatal
from archon_async._dispatch import Dispatcher
from archon_async.core import MalformedResponseError
from archon_async.providers.google_gemini import GeminiProvider
from archon_async.providers.openai_chat import OpenAIChatProvider
from tests.engine.test_dispatch import ScriptedProvider
from tests.local_http import serving
from tests.providers.helpers import SECRET, FakeClock, chat_request

OPENAI_URL = "https://api.openai.com/v1/chat/completions"
GEMINI_URL = "https://generativelanguage.googleapis.com/v1beta/models/gemini-x:generateContent"


def single(model_type: str, model: str, **fields: Any) -> dict[str, Any]:
    generator = {
        "type": "generator",
        "model": model,
        "model_type": model_type,
        "temperature": 0.7,
        "max_tokens": 256,
        "samples": 1,
        **fields,
    }
    return {"name": "single", "layers": [[generator]]}


def openai_reply(content: str | None, finish_reason: str, completion_tokens: int) -> dict[str, Any]:
    return {
        "id": "c1",
        "model": "o3-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": 20,
            "completion_tokens": completion_tokens,
            "total_tokens": 20 + completion_tokens,
        },
    }


def leaf(group: LayerFailedGroup) -> BaseException:
    (only,) = group.exceptions
    return only


@pytest.mark.parametrize(
    ("content", "reason", "words"),
    [
        ("", "length", "raise max_tokens"),  # a reasoning model spent the budget thinking
        (None, "content_filter", "content filter"),
    ],
)
async def test_openai_empty_reply_with_a_reason_is_one_attempt_and_counts_its_tokens(
    router: respx.MockRouter, content: str | None, reason: str, words: str
) -> None:
    route = router.post(OPENAI_URL).respond(200, json=openai_reply(content, reason, 256))
    engine = Engine(single("OpenAI_API", "gpt-4o"), keys={"OPENAI_API_KEY": [SECRET]})
    async with engine:
        with pytest.raises(LayerFailedGroup) as caught:
            await engine.generate("Prove the Riemann hypothesis.")

    assert route.call_count == 1  # the same request would get the same reply
    error = leaf(caught.value)
    assert isinstance(error, IncompleteReplyError)
    assert error.finish_reason == reason
    assert words in str(error) and reason in str(error)
    assert "max_tokens=256" in str(error) or reason != "length"
    trace = caught.value.trace
    assert trace is not None
    totals = trace.totals()
    # The billed tokens are in the trace although no text came back.
    assert (totals["input_tokens"], totals["output_tokens"]) == (20, 256)
    (call,) = trace.calls()
    assert call.finish_reason == reason and call.retries == 0


@pytest.mark.parametrize(
    ("candidate", "reason", "words"),
    [
        ({"finishReason": "SAFETY", "index": 0}, "SAFETY", "content filter"),
        ({"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}, "MAX_TOKENS", "max_tokens"),
    ],
)
async def test_gemini_empty_candidates_with_a_reason(
    router: respx.MockRouter, candidate: dict[str, Any], reason: str, words: str
) -> None:
    body = {
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": 9, "thoughtsTokenCount": 120},
    }
    route = router.post(GEMINI_URL).respond(200, json=body)
    engine = Engine(single("Google_API", "gemini-x"), keys={"GOOGLE_API_KEY": [SECRET]})
    async with engine:
        with pytest.raises(LayerFailedGroup) as caught:
            await engine.generate("Hello")

    assert route.call_count == 1
    error = leaf(caught.value)
    assert isinstance(error, IncompleteReplyError) and error.finish_reason == reason
    assert words in str(error)
    assert caught.value.trace is not None
    # Thinking tokens are billed as output.
    assert caught.value.trace.totals()["output_tokens"] == 120


async def test_an_empty_reply_without_a_reason_is_still_retried(
    router: respx.MockRouter,
) -> None:
    route = router.post(OPENAI_URL)
    route.side_effect = [
        respx.MockResponse(200, json=openai_reply("", "stop", 0)),
        respx.MockResponse(200, json=openai_reply("4", "stop", 1)),
    ]
    engine = Engine(
        single("OpenAI_API", "gpt-x"),
        keys={"OPENAI_API_KEY": [SECRET]},
        providers={"OpenAI_API": {"max_retries": 1}},
    )
    async with engine:
        result = await engine.generate("2+2?")
    assert result.text == "4" and route.call_count == 2


async def test_gemini_429_with_the_wait_only_in_the_body_is_read_as_retry_after(
    router: respx.MockRouter,
) -> None:
    too_many = {
        "error": {
            "code": 429,
            "message": "You exceeded your current quota.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"},
            ],
        }
    }
    router.post(GEMINI_URL).respond(429, json=too_many)
    provider = GeminiProvider("Google_API", ProviderSettings())
    with pytest.raises(RateLimitError) as caught:
        await provider.send(chat_request("Google_API", model="gemini-x"), api_key=SECRET)
    await provider.aclose()
    assert caught.value.retry_after == 20.0


async def test_a_429_asking_for_an_hour_fails_at_once_and_stops_a_batch(
    router: respx.MockRouter,
) -> None:
    route = router.post(OPENAI_URL).respond(
        429, json={"error": {"message": "Rate limit reached"}}, headers={"retry-after": "3600"}
    )
    engine = Engine(single("OpenAI_API", "gpt-x"), keys={"OPENAI_API_KEY": [SECRET]})
    async with engine:
        with pytest.raises(LayerFailedGroup) as caught:
            await engine.generate("Hello")
        error = leaf(caught.value)
        assert isinstance(error, RateLimitResetError)
        assert "resets in 1 h 00 min" in str(error)
        assert is_fatal(caught.value)  # a batch stops instead of writing the same error
        # The next call does not wait the hour silently either: it fails at once.
        with pytest.raises(LayerFailedGroup) as again:
            await engine.generate("Hello again")
    assert isinstance(leaf(again.value), RateLimitResetError)
    assert route.call_count == 1


async def test_a_success_announcing_nothing_left_for_two_hours_fails_the_next_call_fast(
    router: respx.MockRouter,
) -> None:
    headers = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2h0m0s"}
    route = router.post(OPENAI_URL).respond(
        200, json=openai_reply("fine", "stop", 1), headers=headers
    )
    engine = Engine(single("OpenAI_API", "gpt-x"), keys={"OPENAI_API_KEY": [SECRET]})
    async with engine:
        assert (await engine.generate("one")).text == "fine"
        with pytest.raises(LayerFailedGroup) as caught:
            await engine.generate("two")
    error = leaf(caught.value)
    assert isinstance(error, RateLimitResetError)
    assert "resets in 2 h 00 min" in str(error) and "UTC" in str(error)
    assert route.call_count == 1


async def test_a_limiter_wait_is_in_the_trace_and_the_log() -> None:
    clock = FakeClock()
    provider = ScriptedProvider(["ok", "ok"])
    # The first reply says nothing is left until a reset in 5 s: the second call waits.
    provider.headers = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "5s"}
    dispatcher = Dispatcher(
        Registry().add_provider("Fake_API", lambda name, s: provider),
        keys={"FAKE_API_KEY": []},
        sleep=clock.sleep,
        clock=clock,
        dotenv_path=None,
    )
    request = chat_request("Fake_API")
    with capture_logs() as logs:
        _, first = await dispatcher.complete(request)
        _, second = await dispatcher.complete(request)
    assert first.wait_s == 0.0
    assert second.wait_s == pytest.approx(5.0)
    logged = [entry for entry in logs if entry["event"] == "rate_limit_wait"]
    assert [entry["wait_s"] for entry in logged] == [5.0]
    assert logged[0]["provider"] == "Fake_API"


@asynccontextmanager
async def runaway(piece: bytes, media_type: str) -> AsyncIterator[tuple[str, list[int]]]:
    """A chat-completions server on 127.0.0.1 writing ``piece`` until 200 MB are out or the
    client leaves; yields its base URL and the sizes written so far."""
    served: list[int] = []

    async def endless(request: web.Request) -> web.StreamResponse:
        reply = web.StreamResponse(headers={"content-type": media_type})
        await reply.prepare(request)
        try:
            for _ in range((200 << 20) // len(piece)):
                await reply.write(piece)
                served.append(len(piece))
        except (ConnectionResetError, ConnectionError):
            pass
        return reply

    app = web.Application()
    app.router.add_post("/v1/chat/completions", endless)
    async with serving(app) as url:
        yield f"{url}/v1", served


async def test_a_runaway_reply_is_cut_at_max_reply_bytes_and_reported_as_malformed() -> None:
    piece = b'{"choices": [{"message": {"content": "' + b"a" * (1 << 20)
    async with runaway(piece, "application/json") as (url, served):
        settings = ProviderSettings(base_url=url, max_reply_bytes=2 << 20)
        provider = OpenAIChatProvider("OpenAI_Compatible", settings)
        try:
            with pytest.raises(MalformedResponseError, match="larger than max_reply_bytes"):
                await provider.send(chat_request("OpenAI_Compatible"), api_key=None)
        finally:
            await provider.aclose()
    assert sum(served) < 64 << 20  # the server was cut off long before 200 MB


async def test_a_runaway_stream_is_cut_at_max_reply_bytes_with_the_whole_replys_error() -> None:
    piece = b'data: {"choices": [{"index": 0, "delta": {"content": "' + b"a" * (1 << 16)
    pieces: list[str] = []

    async def collect(text: str) -> None:
        pieces.append(text)

    async with runaway(piece + b'"}}]}\n\n', "text/event-stream") as (url, served):
        settings = ProviderSettings(base_url=url, max_reply_bytes=2 << 20)
        provider = OpenAIChatProvider("OpenAI_Compatible", settings)
        request = chat_request("OpenAI_Compatible")
        try:
            with pytest.raises(MalformedResponseError, match="larger than max_reply_bytes"):
                await provider.stream(request, api_key=None, on_delta=collect)
        finally:
            await provider.aclose()
    # The text read before the cap was handed over; nothing past 2 MiB was read.
    assert 0 < sum(map(len, pieces)) <= 2 << 20
    assert sum(served) < 64 << 20  # the server was cut off long before 200 MB


async def test_a_reply_with_an_escaped_lone_surrogate_is_parsed(router: respx.MockRouter) -> None:
    body = (
        b'{"choices": [{"index": 0, "message": {"role": "assistant", '
        b'"content": "cut emoji \\ud83d and a pair \\ud83d\\ude00"}, "finish_reason": "length"}],'
        b' "usage": {"prompt_tokens": 3, "completion_tokens": 5}}'
    )
    route = router.post(OPENAI_URL).respond(200, content=body)
    provider = OpenAIChatProvider("OpenAI_API", ProviderSettings())
    response = await provider.send(chat_request("OpenAI_API"), api_key=SECRET)
    await provider.aclose()
    assert route.call_count == 1
    assert response.text == "cut emoji \ufffd and a pair \U0001f600"
    response.text.encode("utf-8")  # writable to an answer file
