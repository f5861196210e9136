"""Streamed replies: one POST whose answer arrives as server-sent events, read per wire.

Each wire's stream is read into the same `ChatResponse` its whole reply would give (text,
usage, model, finish reason), while every piece of text is handed to ``on_delta`` as it
arrives. Formats, from each API's reference:

* OpenAI chat completions (``"stream": true``): ``data: {chat.completion.chunk}`` events,
  text in ``choices[0].delta.content``, usage in a last chunk when
  ``stream_options.include_usage`` is set, then ``data: [DONE]``.
* Anthropic messages (``"stream": true``): named events ``message_start`` (input tokens),
  ``content_block_delta`` (``text_delta``), ``message_delta`` (stop reason, output tokens),
  ``message_stop``; ``ping`` and ``error`` events may come between.
* Gemini ``:streamGenerateContent?alt=sse``: each ``data:`` is a whole
  ``GenerateContentResponse`` holding the next text; the last carries ``finishReason``
  and ``usageMetadata``.

A stream that ends before the wire says the reply is complete is a connection error (the
engine retries it only when no text went out yet); an error event is a provider error; a
stream longer than the provider's ``max_reply_bytes`` is cut there with the error a whole
reply that long gets (`HttpProvider.too_large`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from archon_async.core import (
    STREAM_EXTENSION,
    ChatRequest,
    ChatResponse,
    ProviderConnectionError,
    ProviderError,
    ProviderServerError,
    ProviderStatusError,
    RateLimitError,
    Usage,
    rate_limit_headers,
)

from ._base import HttpProvider, JsonObject, gemini_usage, require_text, token_usage

if TYPE_CHECKING:
    import httpx

__all__ = [
    "OnDelta",
    "Reading",
    "Stream",
    "stream_anthropic",
    "stream_error",
    "stream_gemini",
    "stream_openai",
]

OnDelta = Callable[[str], Awaitable[None]]
_Item = TypeVar("_Item")
_SSE_HEADERS = {"content-type": "application/json", "accept": "text/event-stream"}
# Anthropic's error types and the statuses they come with outside a stream.
_ANTHROPIC_STATUS = {"overloaded_error": 529, "rate_limit_error": 429, "api_error": 500}


@dataclass(slots=True)
class Reading:
    """What a stream has said so far."""

    texts: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    finish_reason: str | None = None
    complete: bool = False

    async def add(self, text: Any, on_delta: OnDelta) -> None:
        if isinstance(text, str) and text:
            self.texts.append(text)
            await on_delta(text)

    def response(
        self, provider: HttpProvider, request: ChatRequest, headers: dict[str, str]
    ) -> ChatResponse:
        if not self.complete:
            raise ProviderConnectionError(
                "the stream ended before the reply was complete",
                provider=provider.model_type,
                model=request.model,
            )
        text = require_text(
            provider,
            request,
            "".join(self.texts),
            finish_reason=self.finish_reason,
            usage=self.usage,
        )
        return ChatResponse(
            text=text,
            usage=self.usage,
            model=self.model or request.model,
            finish_reason=self.finish_reason,
            headers=headers,
        )


async def stream_openai(
    provider: HttpProvider,
    request: ChatRequest,
    url: str,
    body: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
    secret: str | None,
    on_delta: OnDelta,
) -> ChatResponse:
    """Stream one chat completion (choice 0) into ``on_delta``.

    Raises:
        ProviderError: as a whole reply would, plus a stream that breaks or reports an error.
    """
    streamed: dict[str, Any] = {**body, "stream": True}
    if provider.model_type != "tgi":  # TGI's OpenAI layer does not take stream_options
        streamed["stream_options"] = {"include_usage": True}
    reading = Reading()
    async with Stream(provider, request, url, streamed, headers, secret) as stream:
        async for _, data in stream.events():
            if data.strip() == "[DONE]":
                reading.complete = True
                break
            chunk = stream.json(data)
            if "error" in chunk:
                raise stream_error(provider, request, chunk["error"], None)
            for choice in chunk.get("choices") or ():
                if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                    continue
                delta = choice.get("delta")
                text = delta.get("content") if isinstance(delta, dict) else None
                await reading.add(text, on_delta)
                if choice.get("finish_reason"):
                    reading.finish_reason = choice["finish_reason"]
            if chunk.get("usage"):
                reading.usage = token_usage(chunk["usage"], "prompt_tokens", "completion_tokens")
            reading.model = str(chunk.get("model") or reading.model)
        # Some OpenAI-compatible servers end without [DONE]: a finish reason is enough.
        reading.complete = reading.complete or reading.finish_reason is not None
        return reading.response(provider, request, stream.limits)


async def stream_anthropic(
    provider: HttpProvider,
    request: ChatRequest,
    url: str,
    body: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
    secret: str | None,
    on_delta: OnDelta,
) -> ChatResponse:
    """Stream one message (its text blocks) into ``on_delta``.

    Raises:
        ProviderError: as a whole reply would, plus a stream that breaks or reports an error.
    """
    reading = Reading()
    input_tokens = output_tokens = 0
    async with Stream(provider, request, url, {**body, "stream": True}, headers, secret) as stream:
        async for event, data in stream.events():
            if event == "ping":
                continue
            payload = stream.json(data)
            kind = payload.get("type", event)
            if kind == "error":
                raise stream_error(provider, request, payload.get("error"), "anthropic")
            if kind == "message_start":
                message = payload.get("message") or {}
                reading.model = str(message.get("model") or "")
                usage = token_usage(message.get("usage"), "input_tokens", "output_tokens")
                input_tokens, output_tokens = usage.input_tokens, usage.output_tokens
            elif kind == "content_block_delta":
                delta = payload.get("delta") or {}
                if delta.get("type") == "text_delta":
                    await reading.add(delta.get("text"), on_delta)
            elif kind == "message_delta":
                reading.finish_reason = (payload.get("delta") or {}).get("stop_reason")
                later = token_usage(payload.get("usage"), "input_tokens", "output_tokens")
                input_tokens = later.input_tokens or input_tokens
                output_tokens = later.output_tokens or output_tokens
            elif kind == "message_stop":
                reading.complete = True
                break
        reading.usage = Usage(input_tokens, output_tokens)
        return reading.response(provider, request, stream.limits)


async def stream_gemini(
    provider: HttpProvider,
    request: ChatRequest,
    url: str,
    body: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
    secret: str | None,
    on_delta: OnDelta,
) -> ChatResponse:
    """Stream one ``streamGenerateContent`` reply (candidate 0) into ``on_delta``.

    Args:
        url: the ``:streamGenerateContent`` endpoint; ``alt=sse`` is added here.

    Raises:
        ProviderError: as a whole reply would, plus a stream that breaks or reports an error.
    """
    reading = Reading()
    sse_url = f"{url}{'&' if '?' in url else '?'}alt=sse"
    async with Stream(provider, request, sse_url, body, headers, secret) as stream:
        async for _, data in stream.events():
            payload = stream.json(data)
            if "error" in payload:
                raise stream_error(provider, request, payload["error"], None)
            candidates = payload.get("candidates") or []
            first = candidates[0] if candidates and isinstance(candidates[0], dict) else {}
            parts = (first.get("content") or {}).get("parts") or []
            for part in parts:
                if isinstance(part, dict) and not part.get("thought"):
                    await reading.add(part.get("text"), on_delta)
            if first.get("finishReason"):
                reading.finish_reason = first["finishReason"]
                reading.complete = True
            if payload.get("usageMetadata"):
                reading.usage = gemini_usage(payload["usageMetadata"])
            reading.model = str(payload.get("modelVersion") or reading.model)
        return reading.response(provider, request, stream.limits)


class Stream:
    """One streamed POST: opened on entry (errors mapped), closed on exit."""

    def __init__(
        self,
        provider: HttpProvider,
        request: ChatRequest,
        url: str,
        body: Mapping[str, Any] | bytes,
        headers: Mapping[str, str],
        secret: str | None,
    ) -> None:
        import httpx  # here, not with the module: a run that never sends never imports it

        self.provider = provider
        self.request = request
        self._outgoing = httpx.Request(
            "POST",
            url,
            content=body if isinstance(body, bytes) else orjson.dumps(body),
            headers={**_SSE_HEADERS, **headers},
            extensions={**provider._timeouts(provider.client), STREAM_EXTENSION: True},
        )
        self._secret = secret
        self._url = url
        self._response: httpx.Response | None = None
        self.limits: dict[str, str] = {}

    async def __aenter__(self) -> Stream:
        provider, request = self.provider, self.request
        transport = provider.client._transport_for_url(self._outgoing.url)
        failure: ProviderError | None = None
        try:
            response = await transport.handle_async_request(self._outgoing)
        except Exception as exc:
            failure = provider._transport_failure(request, exc)
            if failure is None:
                raise
        # Errors are raised outside the handlers, so that no httpx error is chained to them:
        # its request holds the key's header.
        if failure is not None:
            raise failure
        # The same cap as a whole reply's, counted as the body arrives, whatever the transport.
        from ._capped import Capped

        response.stream = Capped(response.stream, provider.settings.max_reply_bytes)
        self._response = response
        self.limits = rate_limit_headers(response.headers)
        if response.status_code >= 400:
            try:
                await response.aread()
            except Exception as exc:
                failure = provider._transport_failure(request, exc)
                if failure is None:
                    raise
            finally:
                await response.aclose()
            raise failure or provider._status_error(
                request, response, self.limits, self._secret, self._url
            )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._response is not None:
            await self._response.aclose()

    async def events(self) -> AsyncIterator[tuple[str, str]]:
        """(event name, data) of each server-sent event, as the SSE standard frames them."""
        assert self._response is not None
        event, data = "", list[str]()
        async for line in self._guarded(self._response.aiter_lines()):
            if not line:
                if data:
                    yield event, "\n".join(data)
                event, data = "", []
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif line.startswith("event:"):
                event = line[6:].strip()
            # Comments (":") and other fields (id, retry) carry nothing we use.
        if data:
            yield event, "\n".join(data)

    def chunks(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive, for binary framings (AWS event streams)."""
        assert self._response is not None
        return self._guarded(self._response.aiter_bytes())

    async def _guarded(self, source: AsyncIterator[_Item]) -> AsyncIterator[_Item]:
        """``source`` with the transport's errors raised as provider errors."""
        failure: ProviderError | None = None
        try:
            async for item in source:
                yield item
        except Exception as exc:
            failure = self.provider._send_failure(self.request, exc)
            if failure is None:
                raise
        if failure is not None:
            raise failure  # outside the handler: see __aenter__

    def json(self, data: str) -> JsonObject:
        """An event's data as a JSON object.

        Raises:
            MalformedResponseError: the data is not a JSON object.
        """
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise self.provider.malformed(self.request, "a stream event is not valid JSON") from exc
        if not isinstance(value, dict):
            raise self.provider.malformed(self.request, "a stream event is not a JSON object")
        return value


def stream_error(
    provider: HttpProvider, request: ChatRequest, error: Any, wire: str | None
) -> ProviderStatusError:
    """An error the provider reported inside a stream that had started with a 200."""
    detail = error if isinstance(error, dict) else {"message": str(error)}
    message = str(detail.get("message") or detail.get("type") or "error")[:500]
    code = detail.get("code")
    # The request was accepted (200): what failed is on the provider's side, or a limit.
    status = code if isinstance(code, int) and (code == 429 or code >= 500) else 500
    if wire == "anthropic":
        status = _ANTHROPIC_STATUS.get(str(detail.get("type")), 500)
    common: dict[str, Any] = {
        "provider": provider.model_type,
        "model": request.model,
        "status_code": status,
    }
    if status == 429:
        return RateLimitError(f"in the stream: {message}", **common)
    return ProviderServerError(f"in the stream: {message}", **common)
