"""What every HTTP adapter shares: base URL resolution, the pooled client, error mapping.

An adapter subclasses `HttpProvider`, builds the wire body for a `ChatRequest`, and parses
the JSON reply; `HttpProvider.post_json` makes the one attempt and turns every failure into
the library's exceptions, so that no httpx or JSON error escapes a provider.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import orjson

from archon_async.core import (
    AuthenticationError,
    BadRequestError,
    ChatRequest,
    ChatResponse,
    ConfigError,
    FailedChoice,
    IncompleteReplyError,
    MalformedResponseError,
    ProviderConnectionError,
    ProviderError,
    ProviderServerError,
    ProviderSettings,
    ProviderStatusError,
    ProviderTimeoutError,
    RateLimitError,
    Usage,
    rate_limit_headers,
    redact_secret,
    retry_after_from_headers,
    url_secrets,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "HttpProvider",
    "JsonObject",
    "first_text",
    "gemini_usage",
    "merge_extra",
    "read_choices",
    "require_text",
    "token_usage",
    "with_choices",
]

JsonObject = dict[str, Any]


class Reply(Protocol):
    """A reply read whole: an `httpx.Response`, or the aiohttp transport's lighter
    `WholeReply` (a success on the default transport)."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def content(self) -> bytes: ...
    @property
    def text(self) -> str: ...
    @property
    def reason_phrase(self) -> str: ...


# Error bodies can be long HTML pages; keep enough to diagnose.
_BODY_LIMIT = 2000
_PARSED_URLS_KEPT = 256
# A 403 disables a key only when its body says the key itself is bad: most 403s are about
# the request ("Project ... does not have access to model X", a region, a resource), and
# dropping a good key for them would empty the pool. Matched on the lower-cased body.
_BAD_KEY_CODES = (
    "invalid_api_key",  # OpenAI, Groq
    "incorrect_api_key",
    "api_key_invalid",  # Google
    "unrecognizedclientexception",  # AWS: unknown credentials
    "expiredtokenexception",  # AWS
)
_BAD_KEY_WORDS = r"invalid|incorrect|bad|revoked|expired|disabled|deactivated|leaked"
_KEY_NOUN = r"api[ _-]?key|key|token|credentials?"
_BAD_KEY_PHRASE = re.compile(
    # "Incorrect API key", "invalid x-api-key", "bad key" ...
    rf"\b(?:{_BAD_KEY_WORDS})\W+(?:\w+\W+){{0,2}}?(?:{_KEY_NOUN})\b"
    # ... or "API key not valid", "security token included in the request is invalid".
    rf"|\b(?:{_KEY_NOUN})\W+(?:\w+\W+){{0,5}}?(?:not valid|{_BAD_KEY_WORDS})\b"
)
_JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}


class HttpProvider:
    """Base of the HTTP adapters: one shared, lazily opened client per provider.

    Subclasses set `env_base_url` (the environment variable naming a base URL) and
    `default_base_url` (None when the server is self-hosted and must be configured).

    Args:
        model_type: the config's provider name, e.g. ``"Together_API"``.
        settings: the provider's settings (base URL, pool size, timeout).
        transport: an httpx transport to use instead of aiohttp's (tests, proxies).
    """

    env_base_url: str | None = None
    default_base_url: str | None = None

    def __init__(
        self,
        model_type: str,
        settings: ProviderSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.model_type = model_type
        self.settings = settings
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        # Parsing a URL is a third of building an httpx.Request; a provider posts to a few.
        self._parsed_urls: dict[str, httpx.URL] = {}
        # Read at construction (never at import), so a test or app can set it beforehand.
        self._env_url = os.environ.get(self.env_base_url) if self.env_base_url else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_type!r})"

    def base_url(self, request: ChatRequest) -> str:
        """The base URL for a request: component config, settings, environment, default.

        Raises:
            ConfigError: a self-hosted provider has no base URL anywhere.
        """
        url = request.base_url or self.settings.base_url or self._env_url or self.default_base_url
        if not url:
            where = f" or set {self.env_base_url}" if self.env_base_url else ""
            raise ConfigError(
                f"{self.model_type} needs a base URL: give 'base_url' in the component or "
                f"in the providers section of the config{where}"
            )
        return url.rstrip("/")

    @property
    def client(self) -> httpx.AsyncClient:
        """The shared client, created on first use inside the running event loop."""
        if self._client is None:
            # Imported here, with httpx: a run that sends nothing (a cached rerun) skips both.
            from archon_async.core import make_http_client

            self._client = make_http_client(
                timeout_s=self.settings.timeout_s,
                max_connections=self.settings.max_concurrency,
                transport=self._transport,
                max_reply_bytes=self.settings.max_reply_bytes,
            )
        return self._client

    def _send(
        self, url: str, content: bytes, headers: dict[str, str]
    ) -> Coroutine[Any, Any, Reply]:
        """The POST straight to the client's transport, reading the whole reply (awaited by
        `post_json`: the transport's own coroutine, not one more level around it that every
        loop turn of the call would pass through).

        `AsyncClient.post` would add its per-request machinery (auth flow, redirects,
        cookies, hooks: none of which we use), which measured at about a third of a call's
        client CPU (bench/RESULTS.md, measure 3). On the default aiohttp transport even
        httpx's request and response objects are skipped (`AiohttpTransport.post_whole`).
        The client still owns the transport, its pool and its timeouts, and mounts (respx
        in tests) still apply.
        """
        client = self.client
        parsed = self._parsed_urls.get(url)
        if parsed is None:
            if len(self._parsed_urls) >= _PARSED_URLS_KEPT:
                self._parsed_urls.clear()
            import httpx  # loaded with the client above

            parsed = self._parsed_urls[url] = httpx.URL(url)
        transport = client._transport_for_url(parsed)
        post_whole = getattr(transport, "post_whole", None)
        if post_whole is not None:
            whole: Coroutine[Any, Any, Reply] = post_whole(url, content, headers, client.timeout)
            return whole
        return self._send_httpx(transport, parsed, content, headers)

    async def _send_httpx(
        self,
        transport: httpx.AsyncBaseTransport,
        url: httpx.URL,
        content: bytes,
        headers: dict[str, str],
    ) -> httpx.Response:
        """Send through any httpx transport (tests' mocks, proxies), reading the reply whole."""
        import httpx

        outgoing = httpx.Request(
            "POST", url, content=content, headers=headers, extensions=self._timeouts(self.client)
        )
        response = await transport.handle_async_request(outgoing)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    @staticmethod
    def _timeouts(client: httpx.AsyncClient) -> dict[str, Any]:
        timeout = client.timeout
        return {
            "timeout": {
                "connect": timeout.connect,
                "read": timeout.read,
                "write": timeout.write,
                "pool": timeout.pool,
            }
        }

    async def aclose(self) -> None:
        """Close the connection pool (a later call opens a new one)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def post_json(
        self,
        request: ChatRequest,
        url: str,
        body: Mapping[str, Any] | bytes,
        *,
        headers: Mapping[str, str],
        secret: str | None = None,
    ) -> tuple[JsonObject, dict[str, str]]:
        """POST a JSON body once; return the JSON reply and its rate-limit headers.

        Args:
            request: the request being served (for error messages).
            url: the absolute URL.
            body: the wire body, or its JSON bytes when they were needed beforehand
                (a signature covers them).
            headers: extra headers (authentication included).
            secret: the key in use, redacted from any error text that echoes it.

        Raises:
            ProviderStatusError: an error status (subclass by kind).
            ProviderConnectionError: unreachable, reset, or timed out.
            MalformedResponseError: a reply that is not a JSON object.
        """
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        failure: ProviderError | None = None
        try:
            response = await self._send(url, content, {**_JSON_HEADERS, **headers})
        except Exception as exc:
            failure = self._send_failure(request, exc)
            if failure is None:
                raise
        else:
            if len(response.content) > self.settings.max_reply_bytes:
                # Another transport (a proxy's, a test's) read it all; still never kept.
                failure = self.too_large(request)
        if failure is not None:
            # Raised outside the handler, so that the httpx error is not chained to it: its
            # request (and its frames' locals) hold the key's header.
            raise failure
        limits = rate_limit_headers(response.headers)
        if response.status_code >= 400:
            raise self._status_error(request, response, limits, secret, url)
        try:
            data = _loads_json(response.content)
        except orjson.JSONDecodeError as exc:
            raise self.malformed(request, "the reply is not valid JSON") from exc
        if not isinstance(data, dict):
            raise self.malformed(request, "the reply is not a JSON object")
        return data, limits

    def malformed(self, request: ChatRequest, what: str) -> MalformedResponseError:
        """A `MalformedResponseError` naming this provider and the request's model."""
        return MalformedResponseError(what, provider=self.model_type, model=request.model)

    def too_large(self, request: ChatRequest) -> MalformedResponseError:
        """The error of a reply (whole or streamed) over ``max_reply_bytes``."""
        return self.malformed(
            request,
            f"the reply is larger than max_reply_bytes ({self.settings.max_reply_bytes}): "
            "raise it in the provider's settings if such replies are expected",
        )

    def _send_failure(self, request: ChatRequest, exc: Exception) -> ProviderError | None:
        """The error to raise for ``exc`` out of the transport: a reply over
        ``max_reply_bytes`` or any httpx error; None for anything else (raised as it is)."""
        from archon_async.core import ReplyTooLargeError

        if isinstance(exc, ReplyTooLargeError):
            return self.too_large(request)
        return self._transport_failure(request, exc)

    def _transport_failure(
        self, request: ChatRequest, exc: Exception
    ) -> ProviderConnectionError | None:
        """``exc`` as a connection error when it is httpx's; None for anything else."""
        # httpx is loaded once a reply can fail (the client imported it); imported here, not
        # with the module, so that a run that never sends never imports it.
        import httpx

        return self._connection_error(request, exc) if isinstance(exc, httpx.HTTPError) else None

    def _connection_error(
        self, request: ChatRequest, exc: httpx.HTTPError
    ) -> ProviderConnectionError:
        import httpx

        kind = type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            message = f"no answer within {self.settings.timeout_s:g} s ({kind})"
            return ProviderTimeoutError(message, provider=self.model_type, model=request.model)
        cause = exc.__cause__
        detail = type(cause).__name__ if cause is not None else kind
        return ProviderConnectionError(
            f"connection failed ({detail}): check the base URL and the network",
            provider=self.model_type,
            model=request.model,
        )

    def _status_error(
        self,
        request: ChatRequest,
        response: Reply,
        limits: Mapping[str, str],
        secret: str | None,
        url: str = "",
    ) -> ProviderStatusError:
        status = response.status_code
        # The key, and the URL's password sent as Basic auth: a gateway quoting the
        # Authorization header echoes either.
        secrets = (secret, *url_secrets(url))
        common: dict[str, Any] = {
            "provider": self.model_type,
            "model": request.model,
            "status_code": status,
            # Some gateways echo what they were sent, the key included, as the id.
            "request_id": _redact(
                response.headers.get("x-request-id") or response.headers.get("request-id") or "",
                secrets,
            )
            or None,
        }
        text = response.text
        if status == 401 or (status == 403 and _says_key_is_bad(text)):
            # Some providers echo part of the refused key in the body: keep none of it.
            return AuthenticationError(
                f"the key was refused: check the key given for {self.model_type}", **common
            )
        # Redact before cutting: a key straddling the cut would otherwise leave its prefix.
        body = _redact(text, secrets)[:_BODY_LIMIT]
        message = _error_message(body) or response.reason_phrase or "error"
        if status == 429:
            retry_after = retry_after_from_headers(limits)
            if retry_after is None:
                retry_after = _retry_delay_in_body(text)
            return RateLimitError(
                message, body=body, retry_after=retry_after, headers=limits, **common
            )
        if status >= 500 and (_ONE_CHOICE.search(message) or _TOO_LONG.search(body)):
            # llama.cpp's server refuses n > 1 with a 500 ("Only one completion choice is
            # allowed"), and its builds of late 2025 a prompt longer than its context too:
            # the request is refused, the server is not at fault (not retried, no circuit;
            # the call path then asks one sample a request, or the context fallback).
            return BadRequestError(message, body=body, **common)
        if status >= 500:
            return ProviderServerError(message, body=body, **common)
        if status in (408, 409):
            # Worth retrying; the engine's retry policy classifies by status code.
            return ProviderStatusError(message, body=body, **common)
        # Other 4xx, a 403 about the request included: the key stays, the call fails now.
        return BadRequestError(message, body=body, **common)


# Finish reasons (OpenAI, Anthropic, Gemini, Bedrock Converse) that explain a reply without
# text: the output budget ran out, or the provider's filter blocked the reply.
_OUT_OF_BUDGET = frozenset({"length", "max_tokens", "MAX_TOKENS"})
_BLOCKED = frozenset(
    {
        "content_filter",  # OpenAI
        "refusal",  # Anthropic
        "SAFETY",  # Gemini
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "content_filtered",  # Bedrock Converse
        "guardrail_intervened",
    }
)


def require_text(
    provider: HttpProvider,
    request: ChatRequest,
    text: Any,
    *,
    finish_reason: Any = None,
    usage: Usage | None = None,
) -> str:
    """The reply text.

    Raises:
        IncompleteReplyError: no text, and the finish reason says why (the output budget
            ran out, or a filter blocked it): the same request would get the same reply.
        MalformedResponseError: no text, for no reason given (worth another attempt).
    """
    if isinstance(text, str) and text.strip():
        return text
    reason = finish_reason if isinstance(finish_reason, str) else None
    if reason in _OUT_OF_BUDGET:
        budget = f"max_tokens={request.max_tokens}" if request.max_tokens else "the default"
        fix = (
            f"the output budget ({budget}) ran out before any text (a reasoning model may "
            "spend it all thinking): raise max_tokens"
        )
    elif reason in _BLOCKED:
        fix = "the provider's content filter blocked the reply: rephrase or use another model"
    else:
        raise provider.malformed(request, "the reply has no text")
    counted = usage or Usage()
    return _raise_incomplete(provider, request, reason, fix, counted)


def _raise_incomplete(
    provider: HttpProvider, request: ChatRequest, reason: str, fix: str, usage: Usage
) -> NoReturn:
    raise IncompleteReplyError(
        f"the reply has no text (finish reason {reason!r}): {fix}",
        provider=provider.model_type,
        model=request.model,
        finish_reason=reason,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
    )


def merge_extra(body: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with the config's ``extra_body`` merged in: its values win, and an object
    given for an object merges into it (``{"generationConfig": {"seed": 7}}`` adds a seed
    and keeps the temperature), so provider-specific fields go where each wire nests them."""
    merged = dict(body)
    for name, value in extra.items():
        current = merged.get(name)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[name] = merge_extra(current, value)
        else:
            merged[name] = value
    return merged


def gemini_usage(metadata: Any) -> Usage:
    """Billed tokens of a reply: thinking tokens (``thoughtsTokenCount``) are billed as
    output, and a reply cut at MAX_TOKENS may have nothing else (ai.google.dev, usage
    metadata of generateContent)."""
    usage = token_usage(metadata, "promptTokenCount", "candidatesTokenCount")
    thoughts = metadata.get("thoughtsTokenCount") if isinstance(metadata, dict) else None
    if isinstance(thoughts, int) and thoughts > 0:
        return Usage(usage.input_tokens, usage.output_tokens + thoughts)
    return usage


def token_usage(usage: Any, input_key: str, output_key: str) -> Usage:
    """Token counts from a reply's usage object (missing or odd values count as 0)."""
    if not isinstance(usage, dict):
        return Usage()
    # Spelled out, not a generator over the two: it runs for every reply.
    tokens_in, tokens_out = usage.get(input_key), usage.get(output_key)
    return Usage(
        tokens_in if isinstance(tokens_in, int) else 0,
        tokens_out if isinstance(tokens_out, int) else 0,
    )


def read_choices(
    request: ChatRequest, choices: list[Any], read: Callable[[Any], tuple[str, str | None]]
) -> list[tuple[str, str | None] | IncompleteReplyError]:
    """Each choice's text and finish reason, as ``read`` takes them from one.

    For a request of ``n`` > 1, a choice that ends without text for a reason it gives (a
    filter blocked that sample, or its tokens ran out) is that choice's error, in its
    place, while another choice has text: the others were answered and paid for.

    Raises:
        ProviderError: a choice ``read`` refuses otherwise (no text for no reason: the
            request is worth another attempt), or, for ``n`` > 1, no choice has text.
    """
    if request.n <= 1:
        return [read(choice) for choice in choices]
    read_all: list[tuple[str, str | None] | IncompleteReplyError] = []
    for choice in choices:
        try:
            read_all.append(read(choice))
        except IncompleteReplyError as error:
            read_all.append(error)
    errors = [each for each in read_all if isinstance(each, IncompleteReplyError)]
    if len(errors) == len(read_all):
        raise errors[0]  # no text at all: as a reply of one sample would
    return read_all


def with_choices(
    first: ChatResponse,
    choices: list[tuple[str, str | None] | IncompleteReplyError],
    usage: Usage,
) -> ChatResponse:
    """A reply of ``n`` > 1 samples: ``first`` (the first choice with text, with the
    request's usage) holding every choice as its own response with its share of the usage
    (a choice ``read_choices`` found without text as a `FailedChoice`).

    Providers count the prompt once for all choices and the completion tokens together, so
    each choice gets an even share of the prompt tokens and a share of the completion
    tokens in proportion to its text; the shares add up to the request's counts.
    """
    count = len(choices)
    inputs = [usage.input_tokens // count] * count
    inputs[0] += usage.input_tokens - sum(inputs)
    lengths = [
        1 if isinstance(each, IncompleteReplyError) else max(len(each[0]), 1) for each in choices
    ]
    outputs = [usage.output_tokens * length // sum(lengths) for length in lengths]
    outputs[0] += usage.output_tokens - sum(outputs)
    replies: list[ChatResponse] = []
    for i, each in enumerate(choices):
        share = Usage(inputs[i], outputs[i])
        if isinstance(each, IncompleteReplyError):
            failed = FailedChoice(
                text="", usage=share, model=first.model, finish_reason=each.finish_reason,
                error=each,
            )  # fmt: skip
            replies.append(failed)
        else:
            replies.append(
                ChatResponse(text=each[0], usage=share, model=first.model, finish_reason=each[1])
            )
    return dataclasses.replace(first, choices=tuple(replies))


def first_text(
    choices: list[tuple[str, str | None] | IncompleteReplyError],
) -> tuple[str, str | None]:
    """The text and finish reason of the first choice with text (`read_choices` returns
    at least one)."""
    return next(each for each in choices if not isinstance(each, IncompleteReplyError))


#: llama.cpp's refusal of ``n`` > 1 (its server's "Only one completion choice is allowed").
_ONE_CHOICE = re.compile(r"only one completion choice", re.IGNORECASE)
#: llama.cpp's refusal of a prompt longer than its context (error type and message).
_TOO_LONG = re.compile(r"exceed_context_size_error|exceeds the available context", re.I)


def _says_key_is_bad(body: str) -> bool:
    """Whether an error body says the key itself is invalid, revoked or expired."""
    lowered = body.lower()
    return any(code in lowered for code in _BAD_KEY_CODES) or bool(_BAD_KEY_PHRASE.search(lowered))


def _redact(text: str, secrets: Sequence[str | None]) -> str:
    for secret in secrets:
        text = redact_secret(text, secret)
    return text


def _error_message(body: str) -> str:
    """The provider's own error message from a JSON error body, if there is one."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.strip()[:200]
    if isinstance(data, list) and data:
        data = data[0]  # Google wraps some errors in a list
    if not isinstance(data, dict):
        return ""
    error = data.get("error", data)
    if isinstance(error, dict):
        message = error.get("message") or error.get("Message")
        return str(message)[:500] if message else ""
    if isinstance(error, str):
        return error[:500]
    return str(data.get("message", ""))[:500]


_RETRY_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


def _retry_delay_in_body(body: str) -> float | None:
    """Gemini's wait given only in the body: ``google.rpc.RetryInfo``'s ``retryDelay``
    (a protobuf Duration in JSON, e.g. ``"20s"``) among ``error.details``, as Google's
    own clients read it; None when the body gives none."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, list) and data:
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else []:
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        match = _RETRY_DELAY.match(delay) if isinstance(delay, str) else None
        if match:
            return float(match.group(1))
    return None


# A \uXXXX escape of a UTF-16 surrogate that is not half of a pair (models do emit them,
# e.g. an emoji cut in two at max_tokens): valid JSON text, but not encodable as UTF-8.
_LONE_SURROGATE = re.compile(
    rb"(?<!\\)\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<![dD][89abAB][0-9a-fA-F]{2})(?<!\\)\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def _loads_json(content: bytes) -> Any:
    """Parse a reply body; lone surrogate escapes become U+FFFD instead of failing.

    Raises:
        orjson.JSONDecodeError: the body is not JSON.
    """
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        repaired = _LONE_SURROGATE.sub(rb"\\ufffd", content)
        if repaired == content:
            raise
        return orjson.loads(repaired)
