"""The Anthropic messages wire format (``POST {base}/v1/messages``).

The API takes the system prompt as a top-level ``system`` field, not as a message, and
requires ``max_tokens``; both are handled here so configs need not know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from archon_async.core import ChatRequest, ChatResponse, Message

from ._base import HttpProvider, JsonObject, require_text, token_usage

if TYPE_CHECKING:
    from anthropic.types import MessageParam
    from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

    class WireBody(MessageCreateParamsNonStreaming, total=False):
        """The SDK's request type, for the API version we send.

        SDK 2.x types follow API version 2026-10-21, which removed the sampling
        parameters; 2023-06-01 (`ANTHROPIC_VERSION`) still takes ``temperature``.
        """

        temperature: float

    def _split_for_wire(messages: Sequence[Message], /) -> tuple[str, list[MessageParam]]:
        """`split_system`, typed for the wire: only user and assistant turns are left."""


__all__ = ["ANTHROPIC_VERSION", "AnthropicMessagesProvider", "split_system"]

#: The API version we speak (sent as the ``anthropic-version`` header).
ANTHROPIC_VERSION = "2023-06-01"
# The API refuses a request without max_tokens; this is used when the config gives none.
_DEFAULT_MAX_TOKENS = 4096


def split_system(messages: Sequence[Message]) -> tuple[str, list[Message]]:
    """Separate the system messages (joined by blank lines) from the conversation."""
    system = [m["content"] for m in messages if m["role"] == "system"]
    rest: list[Message] = [
        {"role": m["role"], "content": m["content"]} for m in messages if m["role"] != "system"
    ]
    return "\n\n".join(system), rest


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
        """The wire body for a request (``extra`` fields are sent as they are)."""
        system, messages = _split_for_wire(request.messages)
        body: WireBody = {
            "model": request.model,
            "max_tokens": request.max_tokens or _DEFAULT_MAX_TOKENS,
            "messages": messages,
        }
        if system:
            body["system"] = system
        if request.temperature is not None:
            # Anthropic's range is 0..1; Archon configs may say up to 2 for OpenAI models.
            body["temperature"] = min(request.temperature, 1.0)
        if request.extra:
            # The config's escape hatch for fields we do not model: sent unchecked.
            return {**body, **request.extra}
        return body

    async def send(self, request: ChatRequest, *, api_key: str | None) -> ChatResponse:
        """Send one message request.

        Raises:
            ProviderError: see `archon_async.core.Provider.send`.
        """
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        url = f"{self.base_url(request)}/v1/messages"
        data, limits = await self.post_json(
            request, url, self.build_body(request), headers=headers, secret=api_key
        )
        return self.parse(request, data, limits)

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
        return ChatResponse(
            text=require_text(self, request, "".join(t for t in texts if t)),
            usage=token_usage(data.get("usage"), "input_tokens", "output_tokens"),
            model=str(data.get("model") or request.model),
            finish_reason=data.get("stop_reason"),
            headers=headers,
        )


def _block_text(block: Any) -> str | None:
    if isinstance(block, dict) and block.get("type") == "text":
        text = block.get("text")
        return text if isinstance(text, str) else None
    return None
