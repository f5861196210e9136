"""Google's Gemini REST API (``POST {base}/v1beta/models/{model}:generateContent``).

Gemini names the assistant role ``model``, takes the system prompt as ``systemInstruction``
and the sampling settings in ``generationConfig``.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import quote

from archon_async.core import ChatRequest, ChatResponse, DeltaCallback, Usage

from ._base import (
    HttpProvider,
    JsonObject,
    first_text,
    gemini_usage,
    merge_extra,
    read_choices,
    require_text,
    with_choices,
)
from ._streaming import stream_gemini

__all__ = ["GeminiProvider"]

_ROLES = {"user": "user", "assistant": "model"}


class GeminiProvider(HttpProvider):
    """An adapter for Gemini's ``generateContent``; one attempt per `send`.

    The key goes in the ``x-goog-api-key`` header (never in the URL, where logs keep it).
    """

    env_base_url = "GOOGLE_BASE_URL"
    #: Gemini documents candidateCount from 1 to 8.
    max_samples_per_request = 8
    default_base_url = "https://generativelanguage.googleapis.com"
    api_version = "v1beta"

    def build_body(self, request: ChatRequest) -> JsonObject:
        """The wire body for a request (``extra`` fields are merged in, `merge_extra`)."""
        system = [m["content"] for m in request.messages if m["role"] == "system"]
        body: JsonObject = {
            "contents": [
                {"role": _ROLES.get(m["role"], "user"), "parts": [{"text": m["content"]}]}
                for m in request.messages
                if m["role"] != "system"
            ]
        }
        if system:
            body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
        config: JsonObject = {}
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.max_tokens is not None:
            config["maxOutputTokens"] = request.max_tokens
        if request.top_p is not None:
            config["topP"] = request.top_p
        if request.stop:
            config["stopSequences"] = list(request.stop)
        if request.n > 1:
            config["candidateCount"] = request.n
        if config:
            body["generationConfig"] = config
        return merge_extra(body, request.extra)

    def url(self, request: ChatRequest) -> str:
        """The endpoint for a request's model (``models/`` prefix optional in configs)."""
        model = request.model.removeprefix("models/")
        return f"{self.base_url(request)}/{self.api_version}/models/{quote(model)}:generateContent"

    async def send(self, request: ChatRequest, *, api_key: str | None) -> ChatResponse:
        """Send one generateContent request.

        Raises:
            ProviderError: see `archon_async.core.Provider.send`.
        """
        headers = {"x-goog-api-key": api_key} if api_key else {}
        data, limits = await self.post_json(
            request, self.url(request), self.build_body(request), headers=headers, secret=api_key
        )
        return self.parse(request, data, limits)

    async def stream(
        self, request: ChatRequest, *, api_key: str | None, on_delta: DeltaCallback
    ) -> ChatResponse:
        """`send` on ``streamGenerateContent``: each piece of text goes to ``on_delta``.

        Raises:
            ProviderError: as `send`; also a stream that breaks or reports an error.
        """
        headers = {"x-goog-api-key": api_key} if api_key else {}
        url = self.url(request).removesuffix(":generateContent") + ":streamGenerateContent"
        body = self.build_body(request)
        return await stream_gemini(
            self, request, url, body, headers=headers, secret=api_key, on_delta=on_delta
        )

    def parse(
        self, request: ChatRequest, data: JsonObject, headers: dict[str, str]
    ) -> ChatResponse:
        """Parse a generateContent reply: the text parts of the first candidate.

        Raises:
            MalformedResponseError: no candidate (a blocked prompt says why), or no text.
        """
        candidates = data.get("candidates")
        if not isinstance(candidates, list) or not candidates:
            feedback = data.get("promptFeedback")
            reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
            why = f" (prompt blocked: {reason})" if reason else ""
            raise self.malformed(request, f"the reply has no candidates{why}")
        usage = gemini_usage(data.get("usageMetadata"))
        choices = read_choices(request, candidates, partial(self._candidate, request, usage=usage))
        text, reason = first_text(choices)
        first = ChatResponse(
            text=text,
            usage=usage,
            model=str(data.get("modelVersion") or request.model),
            finish_reason=reason,
            headers=headers,
        )
        if request.n <= 1:
            return first
        if len(choices) != request.n:
            raise self.malformed(request, f"asked for {request.n} candidates, got {len(choices)}")
        return with_choices(first, choices, usage)

    def _candidate(
        self, request: ChatRequest, candidate: Any, usage: Usage
    ) -> tuple[str, str | None]:
        """The text parts and finish reason of one candidate."""
        content = candidate.get("content") if isinstance(candidate, dict) else None
        parts = content.get("parts") if isinstance(content, dict) else None
        texts = [p.get("text") for p in parts or [] if isinstance(p, dict)]
        reason = candidate.get("finishReason") if isinstance(candidate, dict) else None
        text = "".join(t for t in texts if isinstance(t, str))
        return require_text(self, request, text, finish_reason=reason, usage=usage), reason
