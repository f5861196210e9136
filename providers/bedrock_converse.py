"""Amazon Bedrock's Converse API (``POST {base}/model/{modelId}/converse``).

Authentication is a Bedrock API key sent as a bearer token. Without a key, requests are
signed with SigV4 from the standard AWS credentials, if botocore is installed (the
``bedrock`` extra); otherwise the first call says what to do. A streamed call uses
ConverseStream (`._bedrock_stream`), whose event stream botocore parses; without botocore
it is sent whole and its text handed over in one piece.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import anyio
import orjson

from archon_async.core import (
    BadRequestError,
    ChatRequest,
    ChatResponse,
    ConfigError,
    DeltaCallback,
    ProviderSettings,
)

from ._base import HttpProvider, JsonObject, merge_extra, require_text, token_usage
from ._bedrock_stream import event_stream_parser, stream_bedrock
from ._turns import alternating_turns
from .models import anthropic_output_limit, learn_output_limit

__all__ = ["BedrockConverseProvider", "bedrock_max_tokens", "model_id"]

# AWS_REGION_NAME is the variable of Archon's keys and of litellm, which reads it first.
_REGION_VARIABLES = ("BEDROCK_REGION", "AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION")
_LITELLM_PREFIXES = ("bedrock/", "converse/")


def model_id(model: str) -> str:
    """A Bedrock model id without litellm's ``bedrock/`` (and ``converse/``) prefix."""
    for prefix in _LITELLM_PREFIXES:
        model = model.removeprefix(prefix)
    return model


def bedrock_max_tokens(
    request: ChatRequest, settings: ProviderSettings, learned: Mapping[str, int] | None = None
) -> int | None:
    """The ``maxTokens`` to send: the request's, clamped to the model's output limit.

    The limit is the one Bedrock stated in a refusal (``learned``) if any, else the
    settings' ``max_output_tokens`` for the model if given, else a Claude model's documented
    one (Converse sends no ``anthropic-beta`` header, so a limit raised by one does not
    apply). Other models are sent the value unchanged.
    """
    if request.max_tokens is None:
        return None
    stated = (learned or {}).get(request.model)
    if stated is not None:
        return min(request.max_tokens, stated)
    override = settings.max_output_tokens.get(request.model)
    if override is not None:
        return min(request.max_tokens, override)
    known = anthropic_output_limit(model_id(request.model))
    if known is None:
        return request.max_tokens
    return min(request.max_tokens, known.limit(beta=False))


_DEFAULT_REGION = "us-east-1"


class BedrockConverseProvider(HttpProvider):
    """An adapter for Bedrock's Converse API; one attempt per `send`.

    The region comes from ``BEDROCK_REGION``, ``AWS_REGION_NAME``, ``AWS_REGION`` or
    ``AWS_DEFAULT_REGION``, the first one set (default us-east-1), and picks the default
    endpoint; ``BEDROCK_BASE_URL`` or a configured base URL replaces the endpoint.
    """

    env_base_url = "BEDROCK_BASE_URL"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.region = next(
            (value for name in _REGION_VARIABLES if (value := os.environ.get(name))),
            _DEFAULT_REGION,
        )
        self.default_base_url = f"https://bedrock-runtime.{self.region}.amazonaws.com"
        self._credentials: Any = None
        # Output limits Bedrock stated in a refusal, by model: later calls are sent those.
        self.learned_limits: dict[str, int] = {}

    def build_body(self, request: ChatRequest) -> JsonObject:
        """The wire body for a request (``extra`` fields are merged in, `merge_extra`).

        Turns are merged and reordered as Converse requires (`alternating_turns`); a Claude
        model's ``maxTokens`` is clamped to its output limit (`bedrock_max_tokens`).
        """
        system, turns = alternating_turns(request.messages)
        body: JsonObject = {
            "messages": [{"role": m["role"], "content": [{"text": m["content"]}]} for m in turns]
        }
        if system:
            body["system"] = [{"text": system}]
        config: JsonObject = {}
        max_tokens = bedrock_max_tokens(request, self.settings, self.learned_limits)
        if max_tokens is not None:
            config["maxTokens"] = max_tokens
        if request.temperature is not None:
            config["temperature"] = min(request.temperature, 1.0)
        if request.top_p is not None:
            config["topP"] = request.top_p
        if request.stop:
            config["stopSequences"] = list(request.stop)
        if config:
            body["inferenceConfig"] = config
        return merge_extra(body, request.extra)

    @classmethod
    def request_notes(cls, request: ChatRequest, settings: ProviderSettings) -> list[str]:
        """What this adapter will send differently from the config, said at load time."""
        sent = bedrock_max_tokens(request, settings)
        if request.max_tokens is None or sent is None or sent >= request.max_tokens:
            return []
        return [
            f"max_tokens {request.max_tokens} is above {request.model}'s output limit: {sent} "
            "is sent. Set 'max_output_tokens' in the providers section to change the limit"
        ]

    def url(self, request: ChatRequest) -> str:
        """The endpoint for a request's model id (ids contain ``:``, so it is quoted).

        A litellm-style id (``bedrock/meta.llama3-70b-instruct-v1:0``, also with litellm's
        ``converse/`` route) loses its prefix: Bedrock knows the model by the rest.
        """
        return f"{self.base_url(request)}/model/{quote(model_id(request.model), safe='')}/converse"

    async def send(self, request: ChatRequest, *, api_key: str | None) -> ChatResponse:
        """Send one Converse request.

        A refusal that states the model's output limit ("exceeds the model limit of 2048",
        any model) is sent again once, lowered to that limit, which every later call of
        the model is sent too.

        Raises:
            ProviderError: see `archon_async.core.Provider.send`.
            ConfigError: no key and no way to sign the request.
        """
        sent = bedrock_max_tokens(request, self.settings, self.learned_limits)
        try:
            return await self._send_once(request, api_key)
        except BadRequestError as exc:
            if sent is None or not learn_output_limit(
                self.learned_limits, request.model, sent, exc
            ):
                raise
        return await self._send_once(request, api_key)

    async def _send_once(self, request: ChatRequest, api_key: str | None) -> ChatResponse:
        url = self.url(request)
        content = orjson.dumps(self.build_body(request))
        headers = await self._auth_headers(url, content, api_key)
        data, limits = await self.post_json(request, url, content, headers=headers, secret=api_key)
        return self.parse(request, data, limits)

    async def stream(
        self, request: ChatRequest, *, api_key: str | None, on_delta: DeltaCallback
    ) -> ChatResponse:
        """`send`, streamed through ConverseStream: each piece of text goes to ``on_delta``
        as it arrives (in one piece, sent whole, when botocore is not installed).

        Raises:
            ProviderError: as `send`; also a stream that breaks or reports an exception.
            ConfigError: as `send`.
        """
        if event_stream_parser() is None:
            response = await self.send(request, api_key=api_key)
            await on_delta(response.text)
            return response
        sent = bedrock_max_tokens(request, self.settings, self.learned_limits)
        try:
            return await self._stream_once(request, api_key, on_delta)
        except BadRequestError as exc:
            # A 400 comes before any text: sending again lowered streams nothing twice.
            if sent is None or not learn_output_limit(
                self.learned_limits, request.model, sent, exc
            ):
                raise
        return await self._stream_once(request, api_key, on_delta)

    async def _stream_once(
        self, request: ChatRequest, api_key: str | None, on_delta: DeltaCallback
    ) -> ChatResponse:
        url = self.url(request).removesuffix("/converse") + "/converse-stream"
        content = orjson.dumps(self.build_body(request))
        headers = await self._auth_headers(url, content, api_key)
        return await stream_bedrock(
            self, request, url, content, headers=headers, secret=api_key, on_delta=on_delta
        )

    async def _auth_headers(self, url: str, content: bytes, api_key: str | None) -> dict[str, str]:
        if api_key:
            return {"authorization": f"Bearer {api_key}"}
        return await self._sigv4_headers(url, content)

    def parse(
        self, request: ChatRequest, data: JsonObject, headers: dict[str, str]
    ) -> ChatResponse:
        """Parse a Converse reply: the text blocks of ``output.message.content``.

        Raises:
            MalformedResponseError: no message, or no text in it.
        """
        output = data.get("output")
        message = output.get("message") if isinstance(output, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            raise self.malformed(request, "the reply has no output message")
        texts = [block.get("text") for block in content if isinstance(block, dict)]
        usage = token_usage(data.get("usage"), "inputTokens", "outputTokens")
        reason = data.get("stopReason")
        text = "".join(t for t in texts if isinstance(t, str))
        return ChatResponse(
            text=require_text(self, request, text, finish_reason=reason, usage=usage),
            usage=usage,
            model=request.model,
            finish_reason=reason,
            headers=headers,
        )

    async def _sigv4_headers(self, url: str, content: bytes) -> dict[str, str]:
        try:
            # Optional extra: imported by name so the module needs no stubs to type-check.
            auth: Any = importlib.import_module("botocore.auth")
            awsrequest: Any = importlib.import_module("botocore.awsrequest")
        except ImportError:
            raise ConfigError(
                "Bedrock_API has no key: set BEDROCK_API_KEY (a Bedrock API key), or install "
                "archon-async[bedrock] to sign requests with your AWS credentials"
            ) from None
        if self._credentials is None:
            # Reading ~/.aws files blocks: do it once, off the event loop.
            self._credentials = await anyio.to_thread.run_sync(_load_aws_credentials)
        aws_request = awsrequest.AWSRequest(
            method="POST", url=url, data=content, headers={"content-type": "application/json"}
        )
        auth.SigV4Auth(self._credentials, "bedrock", self.region).add_auth(aws_request)
        return {name.lower(): str(value) for name, value in aws_request.headers.items()}


def _load_aws_credentials() -> Any:
    session: Any = importlib.import_module("botocore.session")
    credentials = session.Session().get_credentials()
    if credentials is None:
        raise ConfigError(
            "Bedrock_API has neither a key (BEDROCK_API_KEY) nor AWS credentials to sign with"
        )
    return credentials.get_frozen_credentials()
