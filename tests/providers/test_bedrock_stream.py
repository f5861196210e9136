"""Bedrock's ConverseStream: a real AWS event stream, read as its bytes arrive."""

from __future__ import annotations

import asyncio
import binascii
import json
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from archon_async.core import MalformedResponseError, ProviderSettings, RateLimitError
from archon_async.providers.bedrock_converse import BedrockConverseProvider
from tests.local_http import serving
from tests.providers.helpers import SECRET, chat_request


def frame(headers: dict[str, str], payload: dict[str, Any]) -> bytes:
    """One event-stream message, as AWS frames it: prelude (total and headers lengths,
    their CRC32), string headers (type 7), the payload, the CRC32 of all before it."""
    packed = b""
    for name, value in headers.items():
        raw = value.encode()
        packed += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(raw)) + raw
    body = json.dumps(payload).encode()
    lengths = struct.pack(">II", 12 + len(packed) + len(body) + 4, len(packed))
    message = lengths + struct.pack(">I", binascii.crc32(lengths)) + packed + body
    return message + struct.pack(">I", binascii.crc32(message))


def event(kind: str, payload: dict[str, Any]) -> bytes:
    return frame(
        {":event-type": kind, ":content-type": "application/json", ":message-type": "event"},
        payload,
    )


def delta(text: str) -> bytes:
    return event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": text}, "p": "ab"})


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A Converse endpoint on 127.0.0.1 whose stream waits, after each piece of text, until
    the client has received it: the test fails (times out) if pieces arrive together."""
    state: dict[str, Any] = {"received": asyncio.Event(), "seen": []}

    async def converse_stream(request: web.Request) -> web.StreamResponse:
        state["seen"].append((request.path, request.headers.get("accept")))
        if request.match_info["model"] == "throttled":
            reply = web.StreamResponse(
                headers={"content-type": "application/vnd.amazon.eventstream"}
            )
            await reply.prepare(request)
            await reply.write(event("messageStart", {"role": "assistant"}))
            exception = {":exception-type": "throttlingException", ":message-type": "exception"}
            await reply.write(frame(exception, {"message": "Too many requests"}))
            return reply
        reply = web.StreamResponse(headers={"content-type": "application/vnd.amazon.eventstream"})
        await reply.prepare(request)
        await reply.write(event("messageStart", {"role": "assistant"}))
        for text in ("Rain", "bows ", "form."):
            message = delta(text)
            # Each message in two writes, split inside it: the parser must wait for the rest.
            await reply.write(message[:7])
            await asyncio.sleep(0.02)
            await reply.write(message[7:])
            await asyncio.wait_for(state["received"].wait(), timeout=10)
            state["received"].clear()
        await reply.write(event("contentBlockStop", {"contentBlockIndex": 0}))
        await reply.write(event("messageStop", {"stopReason": "end_turn"}))
        usage = {"inputTokens": 11, "outputTokens": 3, "totalTokens": 14}
        await reply.write(event("metadata", {"usage": usage, "metrics": {"latencyMs": 5}}))
        return reply

    async def garbled(request: web.Request) -> web.Response:
        broken = bytearray(delta("x"))
        broken[-1] ^= 0xFF  # a wrong message checksum
        return web.Response(body=bytes(broken), content_type="application/vnd.amazon.eventstream")

    app = web.Application()
    app.router.add_post("/model/garbled/converse-stream", garbled)
    app.router.add_post("/model/{model}/converse-stream", converse_stream)
    async with serving(app) as url:
        yield url, state


async def test_text_arrives_piece_by_piece_as_the_stream_is_written(
    server: tuple[str, dict[str, Any]],
) -> None:
    url, state = server
    provider = BedrockConverseProvider("Bedrock_API", ProviderSettings(base_url=url))
    pieces: list[str] = []

    async def on_delta(text: str) -> None:
        pieces.append(text)
        state["received"].set()  # the server writes the next piece only now

    try:
        response = await provider.stream(
            chat_request("Bedrock_API", model="m.1"), api_key=SECRET, on_delta=on_delta
        )
    finally:
        await provider.aclose()
    assert pieces == ["Rain", "bows ", "form."]
    assert response.text == "Rainbows form." and response.finish_reason == "end_turn"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (11, 3)
    assert state["seen"] == [("/model/m.1/converse-stream", "application/vnd.amazon.eventstream")]


async def test_exceptions_and_broken_frames_in_the_stream_are_errors(
    server: tuple[str, dict[str, Any]],
) -> None:
    url, _ = server
    provider = BedrockConverseProvider("Bedrock_API", ProviderSettings(base_url=url))

    async def ignore(text: str) -> None:
        pass

    try:
        with pytest.raises(RateLimitError, match="throttlingException: Too many requests"):
            await provider.stream(
                chat_request("Bedrock_API", model="throttled"), api_key=SECRET, on_delta=ignore
            )
        with pytest.raises(MalformedResponseError, match="broken event stream"):
            await provider.stream(
                chat_request("Bedrock_API", model="garbled"), api_key=SECRET, on_delta=ignore
            )
    finally:
        await provider.aclose()
