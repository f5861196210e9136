"""The OpenAI chat-completions wire format: OpenAI, Together, Groq, TGI, vLLM and friends.

One adapter serves every vendor that speaks ``POST {base}/chat/completions``; vendors differ
only in their default base URL and the environment variable that overrides it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from archon_async.core import ChatRequest, ChatResponse, DeltaCallback, ProviderSettings

from ._base import (
    HttpProvider,
    JsonObject,
    first_text,
    merge_extra,
    read_choices,
    require_text,
    token_usage,
    with_choices,
)
from ._streaming import stream_openai
from ._turns import system_into_user
from .models import REASONING_BUDGET_ADVICE, ReasoningModel, reasoning_model

if TYPE_CHECKING:
    from collections.abc import Sequence

    import httpx
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

__all__ = ["OpenAIChatProvider", "groq_base_url"]

# model_type -> (environment variable for the base URL, default base URL or None).
_VENDORS: dict[str, tuple[str | None, str | None]] = {
    "OpenAI_API": ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
    "Together_API": ("TOGETHER_BASE_URL", "https://api.together.xyz/v1"),
    "Groq_API": ("GROQ_BASE_URL", "https://api.groq.com/openai/v1"),
    "tgi": ("TGI_BASE_URL", None),
    "vLLM": ("VLLM_BASE_URL", None),
    "OpenAI_Compatible": ("OPENAI_COMPATIBLE_BASE_URL", None),
}


def groq_base_url(url: str) -> str:
    """``GROQ_BASE_URL`` as the groq SDK means it: the API root (``https://api.groq.com``),
    under which the OpenAI-compatible API lives at ``/openai/v1``. A URL that already
    ends in a version (``.../openai/v1``, a proxy's ``.../v1``) is kept as it is."""
    root = url.rstrip("/")
    if re.search(r"/v\d+$", root):
        return root
    return f"{root}/openai/v1"


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
        # OpenAI documents n up to 128; Groq documents "only n=1 is supported". Other vendors
        # of this wire are tried, and remembered by the call path if they refuse.
        self.max_samples_per_request = 1 if model_type == "Groq_API" else 128
        if self._env_url and model_type == "Groq_API":
            self._env_url = groq_base_url(self._env_url)

    def build_body(self, request: ChatRequest) -> Mapping[str, Any]:
        """The wire body for a request, in the form the model accepts.

        Reasoning models (`reasoning_model`) get ``max_completion_tokens`` and no sampling
        parameter they refuse (``temperature`` other than 1, ``top_p``, ``stop``); o1-mini
        and o1-preview get the system text at the head of the first user message. The
        ``extra`` fields (the config's ``extra_body``) are merged in last, unchecked.
        """
        reasoning = reasoning_model(request.model)
        if reasoning is not None:
            return self._reasoning_body(request, reasoning)
        body: WireBody = {"model": request.model, "messages": _wire_messages(request.messages)}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.stop:
            body["stop"] = list(request.stop)
        if request.n > 1:
            body["n"] = request.n
        if request.extra:
            return merge_extra(body, request.extra)
        return body

    def _reasoning_body(self, request: ChatRequest, model: ReasoningModel) -> Mapping[str, Any]:
        messages = request.messages if model.system_role else system_into_user(request.messages)
        body: WireBody = {"model": request.model, "messages": _wire_messages(messages)}
        if request.max_tokens is not None:
            body["max_completion_tokens"] = request.max_tokens
        if request.temperature == 1:
            body["temperature"] = 1.0
        if request.n > 1:
            body["n"] = request.n
        if request.extra:
            return merge_extra(body, request.extra)
        return body

    @classmethod
    def request_notes(cls, request: ChatRequest, settings: ProviderSettings) -> list[str]:
        """What this adapter will send differently from the config, said at load time."""
        model = reasoning_model(request.model)
        if model is None:
            return []
        dropped = [
            f"{name}={value!r}"
            for name, value in (
                ("temperature", request.temperature),
                ("top_p", request.top_p),
                ("stop", list(request.stop) or None),
            )
            if value is not None and not (name == "temperature" and value == 1)
        ]
        # max_tokens sent as max_completion_tokens changes nothing by itself; a budget that
        # the hidden reasoning can use up does (an empty reply, finish_reason "length").
        changes = []
        budget = request.extra.get("max_completion_tokens", request.max_tokens)
        if isinstance(budget, int) and budget < REASONING_BUDGET_ADVICE:
            changes.append(
                f"max_tokens {budget} (sent as max_completion_tokens) also pays for its hidden "
                f"reasoning, and OpenAI advises at least {REASONING_BUDGET_ADVICE:,}: a reply "
                "may come back empty, cut at the limit"
            )
        if dropped:
            changes.append(f"{', '.join(dropped)} not sent (it takes only the defaults)")
        if not model.system_role:
            changes.append("the system message opens the first user message")
        if not changes:
            return []
        return [
            f"{request.model} is an OpenAI reasoning model ({model.family}): "
            f"{'; '.join(changes)}. Pass the parameters it takes (reasoning_effort...) in "
            "'extra_body'"
        ]

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

    async def stream(
        self, request: ChatRequest, *, api_key: str | None, on_delta: DeltaCallback
    ) -> ChatResponse:
        """`send`, streamed: each piece of text goes to ``on_delta`` as it arrives.

        Raises:
            ProviderError: as `send`; also a stream that breaks or reports an error.
        """
        url = f"{self.base_url(request)}/chat/completions"
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        body = self.build_body(request)
        return await stream_openai(
            self, request, url, body, headers=headers, secret=api_key, on_delta=on_delta
        )

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
        usage = token_usage(data.get("usage"), "prompt_tokens", "completion_tokens")
        if request.n <= 1 and len(choices) == 1:
            # One sample, one choice (nearly every reply): read as `read_choices` reads it,
            # without its partial, list and search (~3 k instructions a call).
            text, reason = self._choice(request, choices[0], usage)
            return ChatResponse(
                text=text,
                usage=usage,
                model=str(data.get("model") or request.model),
                finish_reason=reason,
                headers=headers,
            )
        texts = read_choices(request, choices, partial(self._choice, request, usage=usage))
        text, reason = first_text(texts)
        first = ChatResponse(
            text=text,
            usage=usage,
            model=str(data.get("model") or request.model),
            finish_reason=reason,
            headers=headers,
        )
        if request.n <= 1:
            return first
        if len(texts) > request.n:
            raise self.malformed(request, f"asked for {request.n} choices, got {len(texts)}")
        # Fewer is a server that ignores n (llama-cpp-python's answers one choice): what came
        # is kept, and the call path draws the rest (`Sender`).
        return with_choices(first, texts, usage)

    def _choice(self, request: ChatRequest, choice: Any, usage: Any) -> tuple[str, str | None]:
        """The text and finish reason of one choice."""
        message = choice.get("message") if isinstance(choice, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        reason = choice.get("finish_reason") if isinstance(choice, dict) else None
        text = require_text(self, request, content, finish_reason=reason, usage=usage)
        return text, reason
