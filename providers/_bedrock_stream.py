"""Bedrock's ConverseStream (``POST {base}/model/{modelId}/converse-stream``), read as it arrives.

The reply is an AWS event stream (``application/vnd.amazon.eventstream``): binary messages,
each with a prelude, headers and a JSON payload under two CRC32 checksums. botocore's
parser (`botocore.eventstream.EventStreamBuffer`, the ``bedrock`` extra) frames them as
the bytes arrive. From AWS's ConverseStream reference, the events (header ``:event-type``)
are ``messageStart``, ``contentBlockStart``, ``contentBlockDelta`` (text in
``delta.text``), ``contentBlockStop``, ``messageStop`` (``stopReason``) and ``metadata``
(``usage``: ``inputTokens``, ``outputTokens``); a failure mid-stream is a message whose
``:message-type`` is ``exception``, named by ``:exception-type`` (``throttlingException``,
``modelStreamErrorException``, ``internalServerException``...).
"""

from __future__ import annotations

import importlib
from typing import Any

from archon_async.core import ChatRequest, ChatResponse

from ._base import HttpProvider, token_usage
from ._streaming import OnDelta, Reading, Stream, stream_error

__all__ = ["EVENT_STREAM", "event_stream_parser", "stream_bedrock"]

#: The media type of an AWS event stream.
EVENT_STREAM = "application/vnd.amazon.eventstream"
# Exceptions AWS sends in a stream, by the status the same error has outside one.
_EXCEPTION_STATUS = {"throttlingException": 429, "serviceUnavailableException": 503}


def event_stream_parser() -> Any:
    """botocore's event-stream module, or None when botocore is not installed."""
    try:
        # Optional extra: imported by name so the module needs no stubs to type-check.
        return importlib.import_module("botocore.eventstream")
    except ImportError:
        return None


async def stream_bedrock(
    provider: HttpProvider,
    request: ChatRequest,
    url: str,
    content: bytes,
    *,
    headers: dict[str, str],
    secret: str | None,
    on_delta: OnDelta,
) -> ChatResponse:
    """Stream one ConverseStream reply (its text blocks) into ``on_delta``.

    Args:
        url: the ``/converse-stream`` endpoint.
        content: the JSON body (the bytes a SigV4 signature in ``headers`` covers).

    Raises:
        ProviderError: as a whole reply would, plus a stream that breaks, reports an
            exception or is not a valid event stream (`MalformedResponseError`).
    """
    eventstream = event_stream_parser()
    assert eventstream is not None, "checked by the caller"
    frames = eventstream.EventStreamBuffer()
    reading = Reading()
    headers = {**headers, "accept": EVENT_STREAM}
    async with Stream(provider, request, url, content, headers, secret) as stream:
        async for data in stream.chunks():
            frames.add_data(data)
            try:
                messages = list(frames)
            except eventstream.ParserError as exc:
                raise provider.malformed(request, f"a broken event stream ({exc})") from None
            for message in messages:
                payload = stream.json(message.payload.decode("utf-8", errors="replace"))
                kind = message.headers.get(":message-type")
                if kind != "event":  # "exception" or "error"
                    name = message.headers.get(":exception-type") or message.headers.get(
                        ":error-code", "error"
                    )
                    detail = {
                        "message": f"{name}: {payload.get('message', '')}",
                        "code": _EXCEPTION_STATUS.get(str(name), 500),
                    }
                    raise stream_error(provider, request, detail, None)
                event = message.headers.get(":event-type")
                if event == "contentBlockDelta":
                    delta = payload.get("delta")
                    text = delta.get("text") if isinstance(delta, dict) else None
                    await reading.add(text, on_delta)
                elif event == "messageStop":
                    reading.finish_reason = payload.get("stopReason")
                    reading.complete = True
                elif event == "metadata":
                    reading.usage = token_usage(payload.get("usage"), "inputTokens", "outputTokens")
        return reading.response(provider, request, stream.limits)
