"""The OpenAI chat-completions wire format: OpenAI, Together, Groq, TGI, vLLM and friends.

One adapter serves every vendor that speaks ``POST {base}/chat/completions``; vendors differ
only in their default base URL and the environment variable that overrides it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from archon_async.core import ChatRequest, ChatResponse, ProviderSettings

from ._base import HttpProvider, JsonObject, require_text, token_usage

if TYPE_CHECKING:
    from collections.abc import Sequence

    from openai.types.chat import ChatCompletionMessageParam
    from openai.types.chat.completion_create_params import (
        CompletionCreateParamsNonStreaming as WireBody,
    )

    from archon_async.core import Message

    def _wire_messages(messages: Sequence[Message], /) -> list[ChatCompletionMessageParam]:
        """The messages as the wire takes them (their roles are validated upstream)."""

else:
    # The SDK's types check our body's shape under mypy at no runtime cost: the body stays
    # a plain dict, and this is the `list()` the body needed anyway.
    _wire_messages = list

__all__ = ["OpenAIChatProvider"]

# model_type -> (environment variable for the base URL, default base URL or None).
_VENDORS: dict[str, tuple[str | None, str | None]] = {
    "OpenAI_API": ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
    "Together_API": ("TOGETHER_BASE_URL", "https://api.together.xyz/v1"),
    "Groq_API": ("GROQ_BASE_URL", "https://api.groq.com/openai/v1"),
    "tgi": ("TGI_BASE_URL", None),
    "vLLM": ("VLLM_BASE_URL", None),
    "OpenAI_Compatible": ("OPENAI_COMPATIBLE_BASE_URL", None),
}


class OpenAIChatProvider(HttpProvider):
    """An adapter for ``/chat/completions``; one attempt per `send`.

    Known model_types get their vendor's base URL; any other name (a custom registration)
    needs a base URL in the config or in code.

    Args:
        model_type: the config's provider name, e.g. ``"Together_API"``.
        settings: the provider's settings.
        transport: an httpx transport to use instead of aiohttp's (tests, proxies).
    """

    def __init__(
        self,
        model_type: str,
        settings: ProviderSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.env_base_url, self.default_base_url = _VENDORS.get(model_type, (None, None))
        super().__init__(model_type, settings, transport=transport)

    def build_body(self, request: ChatRequest) -> Mapping[str, Any]:
        """The wire body for a request (``extra`` fields are sent as they are)."""
        body: WireBody = {"model": request.model, "messages": _wire_messages(request.messages)}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.extra:
            # The config's escape hatch for fields we do not model: sent unchecked.
            return {**body, **request.extra}
        return body

    async def send(self, request: ChatRequest, *, api_key: str | None) -> ChatResponse:
        """Send one chat completion; a pool without keys (self-hosted) sends no auth header.

        Raises:
            ProviderError: see `archon_async.core.Provider.send`.
            ConfigError: a self-hosted provider has no base URL.
        """
        url = f"{self.base_url(request)}/chat/completions"
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        data, limits = await self.post_json(
            request, url, self.build_body(request), headers=headers, secret=api_key
        )
        return self.parse(request, data, limits)

    def parse(
        self, request: ChatRequest, data: JsonObject, headers: dict[str, str]
    ) -> ChatResponse:
        """Parse a chat-completion reply.

        Raises:
            MalformedResponseError: no choices, or a choice without text.
        """
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self.malformed(request, "the reply has no choices")
        choice: dict[str, Any] = choices[0]
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        return ChatResponse(
            text=require_text(self, request, content),
            usage=token_usage(data.get("usage"), "prompt_tokens", "completion_tokens"),
            model=str(data.get("model") or request.model),
            finish_reason=choice.get("finish_reason"),
            headers=headers,
        )
