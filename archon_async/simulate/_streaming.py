"""Streamed replies, in each wire's own server-sent events.

A reply is cut into pieces of one word (with the spaces after it) and sent as the API
would stream it (formats from each API's reference):

* OpenAI: ``data: {chat.completion.chunk}`` per piece (a role chunk first, a
  finish-reason chunk last, per choice), a usage chunk when ``stream_options.include_usage``
  asks for it, then ``data: [DONE]``.
* Anthropic: ``message_start``, ``content_block_start``, ``ping``, one
  ``content_block_delta`` per piece, ``content_block_stop``, ``message_delta`` (stop reason
  and output tokens), ``message_stop``, each as ``event:`` and ``data:`` lines.
* Gemini ``:streamGenerateContent``: a ``GenerateContentResponse`` per piece, the last
  with ``finishReason`` and ``usageMetadata``; as SSE with ``alt=sse``, else as one JSON
  array (what the API sends without it).

The first piece leaves when the reply's latency has passed, so the time to first token is
the configured latency; ``chunk_interval_s`` spaces the pieces after it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from aiohttp import web

from ._responses import Choice
from ._wire import Inbound, Wire

__all__ = ["pieces", "stream_reply"]

_PIECE = re.compile(r"\s*\S+\s*|\s+")


def pieces(text: str) -> list[str]:
    """The pieces a text is streamed in: words with the spaces around them (joined, the
    text again)."""
    return _PIECE.findall(text) or [text]


async def stream_reply(
    request: web.Request,
    inbound: Inbound,
    choices: Sequence[Choice],
    *,
    reply_id: str,
    prompt_tokens: int,
    completion_tokens: int,
    headers: dict[str, str],
    interval_s: float,
) -> web.StreamResponse:
    """Send ``choices`` as ``inbound.wire`` streams them; returns once the last event is out.

    Raises:
        ConnectionResetError: the client went away mid-stream (aiohttp's error for it).
    """
    sse = inbound.wire is not Wire.GOOGLE or request.query.get("alt") == "sse"
    kind = "text/event-stream" if sse else "application/json"
    response = web.StreamResponse(
        status=200, headers={**headers, "content-type": kind, "cache-control": "no-cache"}
    )
    await response.prepare(request)
    usage = (prompt_tokens, completion_tokens)
    events = _EVENTS[inbound.wire](inbound, choices, f"{reply_id}", usage)
    if not sse:  # Gemini without alt=sse: the same responses as one JSON array
        await response.write(orjson.dumps([data for _, data in events]))
        await response.write_eof()
        return response
    for position, (name, data) in enumerate(events):
        if position and interval_s > 0:
            await asyncio.sleep(interval_s)
        head = f"event: {name}\n".encode() if name else b""
        body = data if isinstance(data, bytes) else orjson.dumps(data)
        await response.write(head + b"data: " + body + b"\n\n")
    await response.write_eof()
    return response


Event = tuple[str, Any]


def _openai(
    inbound: Inbound, choices: Sequence[Choice], reply_id: str, usage: tuple[int, int]
) -> Iterator[Event]:
    base: dict[str, Any] = {
        "id": f"chatcmpl-{reply_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": inbound.model,
        "system_fingerprint": "fp_simulated",
    }
    if inbound.include_usage:
        base["usage"] = None  # every chunk says it, as OpenAI's do, the last one has it

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> Event:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return "", {**base, "choices": [choice]}

    for index, choice in enumerate(choices):
        yield chunk(index, {"role": "assistant", "content": "", "refusal": None})
        for piece in pieces(choice.text):
            yield chunk(index, {"content": piece})
        yield chunk(index, {}, "length" if choice.truncated else "stop")
    if inbound.include_usage:
        prompt, completion = usage
        totals = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        yield "", {**base, "choices": [], "usage": totals}
    yield "", b"[DONE]"


def _anthropic(
    inbound: Inbound, choices: Sequence[Choice], reply_id: str, usage: tuple[int, int]
) -> Iterator[Event]:
    choice = choices[0] if choices else Choice("")
    message: dict[str, Any] = {
        "id": f"msg_{reply_id}",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": inbound.model,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": 1},
    }
    yield "message_start", {"type": "message_start", "message": message}
    block = {"type": "text", "text": ""}
    yield "content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}
    yield "ping", {"type": "ping"}
    for piece in pieces(choice.text):
        delta = {"type": "text_delta", "text": piece}
        yield "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    stop = {"stop_reason": "max_tokens" if choice.truncated else "end_turn", "stop_sequence": None}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": stop,
            "usage": {"output_tokens": usage[1]},
        },
    )
    yield "message_stop", {"type": "message_stop"}


def _google(
    inbound: Inbound, choices: Sequence[Choice], reply_id: str, usage: tuple[int, int]
) -> Iterator[Event]:
    for index, choice in enumerate(choices):
        parts = pieces(choice.text)
        for position, piece in enumerate(parts):
            candidate: dict[str, Any] = {
                "content": {"parts": [{"text": piece}], "role": "model"},
                "index": index,
            }
            response: dict[str, Any] = {
                "candidates": [candidate],
                "modelVersion": inbound.model,
                "responseId": reply_id,
            }
            if position == len(parts) - 1:
                candidate["finishReason"] = "MAX_TOKENS" if choice.truncated else "STOP"
                if index == len(choices) - 1:
                    response["usageMetadata"] = {
                        "promptTokenCount": usage[0],
                        "candidatesTokenCount": usage[1],
                        "totalTokenCount": usage[0] + usage[1],
                    }
            yield "", response


_EVENTS = {Wire.OPENAI: _openai, Wire.ANTHROPIC: _anthropic, Wire.GOOGLE: _google}

#: The wires whose requests can ask for a stream (Bedrock's ConverseStream is binary
#: event-stream framing, which the simulator does not speak).
STREAMING_WIRES = frozenset(_EVENTS)
