"""The Anthropic messages wire format (``POST {base}/v1/messages``).

The API takes the system prompt as a top-level ``system`` field, not as a message, requires
``max_tokens`` no larger than the model's output limit, and turns that alternate from the
user's; all are handled here so configs need not know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from archon_async.core import (
    BadRequestError,
    ChatRequest,
    ChatResponse,
    DeltaCallback,
    Message,
    ProviderSettings,
)

from ._base import HttpProvider, JsonObject, merge_extra, require_text, token_usage
from ._streaming import stream_anthropic
from ._turns import alternating_turns
from .models import anthropic_output_limit, learn_output_limit

if TYPE_CHECKING:
    from anthropic.types import MessageParam
    from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

    class WireBody(MessageCreateParamsNonStreaming, total=False):
        """The SDK's request type, for the API version we send.

        SDK 2.x types follow API version 2026-10-21, which removed the sampling
        parameters; 2023-06-01 (`ANTHROPIC_VERSION`) still takes ``temperature`` and
        ``top_p``.
        """

        temperature: float
        top_p: float

    def _split_for_wire(messages: Sequence[Message], /) -> tuple[str, list[MessageParam]]:
        """`split_system`, typed for the wire: only user and assistant turns are left."""


__all__ = ["ANTHROPIC_VERSION", "AnthropicMessagesProvider", "clamp_max_tokens", "split_system"]

#: The API version we speak (sent as the ``anthropic-version`` header).
ANTHROPIC_VERSION = "2023-06-01"
# The API refuses a request without max_tokens; this is used when the config gives none.
_DEFAULT_MAX_TOKENS = 4096


def split_system(messages: Sequence[Message]) -> tuple[str, list[Message]]:
    """The system text and the turns as the API takes them (see `alternating_turns`)."""
    return alternating_turns(messages)


def clamp_max_tokens(
    request: ChatRequest, settings: ProviderSettings, learned: Mapping[str, int] | None = None
) -> tuple[int, str | None]:
    """The ``max_tokens`` to send and the ``anthropic-beta`` header it needs, if any.

    The request's value (4096 when it has none, Archon's value) is lowered to the model's
    output limit: the one the API stated in a refusal (``learned``) if any, else the
    settings' ``max_output_tokens`` for the model if given, else the documented limit
    (`anthropic_output_limit`, which also knows Bedrock and Vertex ids). A model known to
    none of them is sent the value unchanged.
    """
    wanted = request.max_tokens or _DEFAULT_MAX_TOKENS
    stated = (learned or {}).get(request.model)
    if stated is not None:
        return min(wanted, stated), None
    override = settings.max_output_tokens.get(request.model)
    if override is not None:
        return min(wanted, override), None
    known = anthropic_output_limit(request.model)
    if known is None:
        return wanted, None
    base = known.limit(beta=False)
    if wanted <= base or known.beta is None:
        return min(wanted, known.max_tokens), None
    return min(wanted, known.max_tokens), known.beta


if not TYPE_CHECKING:
    # The SDK's types check our body's shape under mypy at no runtime cost: the body stays
    # a plain dict, and this is the very function it was built with before.
    _split_for_wire = split_system


class AnthropicMessagesProvider(HttpProvider):
    """An adapter for Anthropic's messages API; one attempt per `send`.

    The key goes in ``x-api-key``; the base URL is the API root without ``/v1``, as
    ``ANTHROPIC_BASE_URL`` is for the official SDK.
    """

    env_base_url = "ANTHROPIC_BASE_URL"
    default_base_url = "https://api.anthropic.com"

    def build_body(self, request: ChatRequest) -> Mapping[str, Any]:
        """The wire body for a request (``extra`` fields are merged in last, unchecked).

        ``max_tokens`` is clamped to the model's output limit (`clamp_max_tokens`); the
        turns are merged and reordered as the API requires (`alternating_turns`).
        """
        system, messages = _split_for_wire(request.messages)
        max_tokens, _ = clamp_max_tokens(request, self.settings, self.learned_limits)
        body: WireBody = {"model": request.model, "max_tokens": max_tokens, "messages": messages}
        if system:
            body["system"] = system
        if request.temperature is not None:
            # Anthropic's range is 0..1; Archon configs may say up to 2 for OpenAI models.
            body["temperature"] = min(request.temperature, 1.0)
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if request.extra:
            return merge_extra(body, request.extra)
        return body

    def headers(self, request: ChatRequest, api_key: str | None) -> dict[str, str]:
        """The version header, the key, and the beta header a raised output limit needs."""
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        _, beta = clamp_max_tokens(request, self.settings, self.learned_limits)
        if beta:
            headers["anthropic-beta"] = beta
        return headers

    @classmethod
    def request_notes(cls, request: ChatRequest, settings: ProviderSettings) -> list[str]:
        """What this adapter will send differently from the config, said at load time."""
        sent, _ = clamp_max_tokens(request, settings)
        if request.max_tokens is None or sent >= request.max_tokens:
            return []
        return [
            f"max_tokens {request.max_tokens} is above {request.model}'s output limit: "
            f"{sent} is sent (the API refuses more; Archon sends 4096 to every Anthropic "
            "call). Set 'max_output_tokens' in the providers section to change the limit"
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Output limits the API stated in a refusal, by model: later calls are sent those.
        self.learned_limits: dict[str, int] = {}

    async def send(self, request: ChatRequest, *, api_key: str | None) -> ChatResponse:
        """Send one message request.

        A refusal that states the model's output limit (a model missing from the table,
        or a table older than the API) is sent again once, lowered to that limit, which
        every later call of the model is sent too.

        Raises:
            ProviderError: see `archon_async.core.Provider.send`.
        """
        sent, _ = clamp_max_tokens(request, self.settings, self.learned_limits)
        try:
            return await self._send_once(request, api_key)
        except BadRequestError as exc:
            if not learn_output_limit(self.learned_limits, request.model, sent, exc):
                raise
        return await self._send_once(request, api_key)

    async def _send_once(self, request: ChatRequest, api_key: str | None) -> ChatResponse:
        url = f"{self.base_url(request)}/v1/messages"
        data, limits = await self.post_json(
            request,
            url,
            self.build_body(request),
            headers=self.headers(request, api_key),
            secret=api_key,
        )
        return self.parse(request, data, limits)

    async def stream(
        self, request: ChatRequest, *, api_key: str | None, on_delta: DeltaCallback
    ) -> ChatResponse:
        """`send`, streamed: each piece of text goes to ``on_delta`` as it arrives.

        Raises:
            ProviderError: as `send`; also a stream that breaks or reports an error.
        """
        sent, _ = clamp_max_tokens(request, self.settings, self.learned_limits)
        try:
            return await self._stream_once(request, api_key, on_delta)
        except BadRequestError as exc:
            # A 400 comes before any text: sending again lowered streams nothing twice.
            if not learn_output_limit(self.learned_limits, request.model, sent, exc):
                raise
        return await self._stream_once(request, api_key, on_delta)

    async def _stream_once(
        self, request: ChatRequest, api_key: str | None, on_delta: DeltaCallback
    ) -> ChatResponse:
        url = f"{self.base_url(request)}/v1/messages"
        headers = self.headers(request, api_key)
        body = self.build_body(request)
        return await stream_anthropic(
            self, request, url, body, headers=headers, secret=api_key, on_delta=on_delta
        )

    def parse(
        self, request: ChatRequest, data: JsonObject, headers: dict[str, str]
    ) -> ChatResponse:
        """Parse a messages reply: the text blocks of ``content``, joined.

        Raises:
            MalformedResponseError: no content, or no text in it.
        """
        content = data.get("content")
        if not isinstance(content, list):
            raise self.malformed(request, "the reply has no content")
        texts = [_block_text(block) for block in content]
        usage = token_usage(data.get("usage"), "input_tokens", "output_tokens")
        reason = data.get("stop_reason")
        text = "".join(t for t in texts if t)
        return ChatResponse(
            text=require_text(self, request, text, finish_reason=reason, usage=usage),
            usage=usage,
            model=str(data.get("model") or request.model),
            finish_reason=reason,
            headers=headers,
        )


def _block_text(block: Any) -> str | None:
    if isinstance(block, dict) and block.get("type") == "text":
        text = block.get("text")
        return text if isinstance(text, str) else None
    return None
