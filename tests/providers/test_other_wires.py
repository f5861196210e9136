"""Anthropic, Gemini, Bedrock and function adapters: request shapes and reply parsing."""

from __future__ import annotations

import importlib.util
from typing import Any

import orjson
import pytest
import respx

from archon_async.core import (
    AuthenticationError,
    ChatRequest,
    ConfigError,
    MalformedResponseError,
    ProviderError,
    ProviderServerError,
    ProviderSettings,
    RateLimitError,
)
from archon_async.providers.anthropic_messages import ANTHROPIC_VERSION, AnthropicMessagesProvider
from archon_async.providers.bedrock_converse import BedrockConverseProvider
from archon_async.providers.function import FunctionProvider
from archon_async.providers.google_gemini import GeminiProvider
from tests.providers.helpers import SECRET, chat_request

ANTHROPIC_OK = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [{"type": "text", "text": "Fo"}, {"type": "text", "text": "ur"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 9, "output_tokens": 2},
}


async def test_anthropic_request_shape_and_parsing(router: respx.MockRouter) -> None:
    route = router.post("https://api.anthropic.com/v1/messages").respond(
        200, json=ANTHROPIC_OK, headers={"anthropic-ratelimit-requests-remaining": "5"}
    )
    provider = AnthropicMessagesProvider("Anthropic_API", ProviderSettings())
    response = await provider.send(chat_request("Anthropic_API", temperature=1.5), api_key=SECRET)

    sent = route.calls.last.request
    assert sent.headers["x-api-key"] == SECRET
    assert sent.headers["anthropic-version"] == ANTHROPIC_VERSION
    assert "authorization" not in sent.headers
    assert orjson.loads(sent.content) == {
        "model": "m-1",
        "max_tokens": 64,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "What is 2+2?"}],
        "temperature": 1.0,  # clamped to Anthropic's range
    }
    assert response.text == "Four" and response.finish_reason == "end_turn"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (9, 2)
    assert response.headers == {"anthropic-ratelimit-requests-remaining": "5"}


async def test_anthropic_defaults_max_tokens_and_env_base_url(
    router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://gateway.local/anthropic")
    route = router.post("http://gateway.local/anthropic/v1/messages").respond(
        200, json=ANTHROPIC_OK
    )
    provider = AnthropicMessagesProvider("Anthropic_API", ProviderSettings())
    request = ChatRequest(
        model="m", model_type="Anthropic_API", messages=[{"role": "user", "content": "hi"}]
    )
    await provider.send(request, api_key=SECRET)
    body = orjson.loads(route.calls.last.request.content)
    assert body["max_tokens"] > 0 and "system" not in body and "temperature" not in body


@pytest.mark.parametrize(
    "reply",
    [
        {"content": []},
        {"content": [{"type": "tool_use", "id": "t"}]},
        {"type": "message"},
    ],
)
async def test_anthropic_malformed(router: respx.MockRouter, reply: dict[str, object]) -> None:
    router.post("https://api.anthropic.com/v1/messages").respond(200, json=reply)
    with pytest.raises(MalformedResponseError):
        await AnthropicMessagesProvider("Anthropic_API", ProviderSettings()).send(
            chat_request("Anthropic_API"), api_key=SECRET
        )


async def test_anthropic_overloaded_and_rate_limit(router: respx.MockRouter) -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    route = router.post("https://api.anthropic.com/v1/messages")
    route.side_effect = [
        respx.MockResponse(529, json=error),
        respx.MockResponse(
            429,
            json=error,
            headers={
                "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-requests-reset": "2015-10-21T07:28:00Z",
            },
        ),
    ]
    provider = AnthropicMessagesProvider("Anthropic_API", ProviderSettings())
    with pytest.raises(ProviderServerError, match="Overloaded"):
        await provider.send(chat_request("Anthropic_API"), api_key=SECRET)
    with pytest.raises(RateLimitError) as caught:
        await provider.send(chat_request("Anthropic_API"), api_key=SECRET)
    assert caught.value.retry_after == 0.0  # a reset in the past: retry now


GEMINI_OK = {
    "candidates": [
        {"content": {"role": "model", "parts": [{"text": "4"}]}, "finishReason": "STOP"}
    ],
    "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 1, "totalTokenCount": 8},
    "modelVersion": "gemini-x-001",
}


async def test_gemini_request_shape_and_parsing(router: respx.MockRouter) -> None:
    url = "https://generativelanguage.googleapis.com/v1beta/models/gemini-x:generateContent"
    route = router.post(url).respond(200, json=GEMINI_OK)
    provider = GeminiProvider("Google_API", ProviderSettings())
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "2+2?"},
    ]
    request = ChatRequest(
        model="models/gemini-x",
        model_type="Google_API",
        messages=messages,  # type: ignore[arg-type]
        temperature=0.2,
        max_tokens=32,
    )
    response = await provider.send(request, api_key=SECRET)

    sent = route.calls.last.request
    assert sent.headers["x-goog-api-key"] == SECRET
    assert SECRET not in str(sent.url)
    assert orjson.loads(sent.content) == {
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello"}]},
            {"role": "user", "parts": [{"text": "2+2?"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {"temperature": 0.2, "maxOutputTokens": 32},
    }
    assert response.text == "4" and response.finish_reason == "STOP"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (7, 1)
    assert response.model == "gemini-x-001"


async def test_gemini_blocked_prompt_and_auth_error(router: respx.MockRouter) -> None:
    url = "https://generativelanguage.googleapis.com/v1beta/models/m-1:generateContent"
    route = router.post(url)
    route.side_effect = [
        respx.MockResponse(200, json={"promptFeedback": {"blockReason": "SAFETY"}}),
        respx.MockResponse(403, json={"error": {"code": 403, "message": f"bad key {SECRET}"}}),
    ]
    provider = GeminiProvider("Google_API", ProviderSettings())
    with pytest.raises(MalformedResponseError, match="SAFETY"):
        await provider.send(chat_request("Google_API"), api_key=SECRET)
    with pytest.raises(AuthenticationError) as caught:
        await provider.send(chat_request("Google_API"), api_key=SECRET)
    assert SECRET not in str(caught.value) and caught.value.body is None


BEDROCK_OK = {
    "output": {"message": {"role": "assistant", "content": [{"text": "4"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 11, "outputTokens": 1, "totalTokens": 12},
}


async def test_bedrock_request_shape_and_parsing(
    router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BEDROCK_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    model = "anthropic.claude-x-v1:0"
    url = "https://bedrock-runtime.eu-west-3.amazonaws.com/model/anthropic.claude-x-v1%3A0/converse"
    route = router.post(url).respond(200, json=BEDROCK_OK)
    provider = BedrockConverseProvider("Bedrock_API", ProviderSettings())
    response = await provider.send(chat_request("Bedrock_API", model=model), api_key=SECRET)

    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    assert orjson.loads(sent.content) == {
        "messages": [{"role": "user", "content": [{"text": "What is 2+2?"}]}],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {"maxTokens": 64, "temperature": 0.5},
    }
    assert response.text == "4" and response.finish_reason == "end_turn"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (11, 1)


async def test_bedrock_base_url_from_env_and_throttling(
    router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEDROCK_BASE_URL", "http://bedrock.local")
    router.post("http://bedrock.local/model/m-1/converse").respond(
        429, json={"message": "Too many requests"}, headers={"retry-after": "2"}
    )
    with pytest.raises(RateLimitError, match="Too many requests") as caught:
        await BedrockConverseProvider("Bedrock_API", ProviderSettings()).send(
            chat_request("Bedrock_API"), api_key=SECRET
        )
    assert caught.value.retry_after == 2.0


async def test_bedrock_without_key_or_signer_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_import = importlib.import_module

    def without_botocore(name: str, *args: Any) -> Any:
        if name.startswith("botocore"):
            raise ImportError(name)
        return real_import(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_botocore)
    with pytest.raises(ConfigError, match=r"BEDROCK_API_KEY.*archon-async\[bedrock\]"):
        await BedrockConverseProvider("Bedrock_API", ProviderSettings()).send(
            chat_request("Bedrock_API"), api_key=None
        )


async def test_bedrock_without_a_key_signs_with_aws_credentials(
    router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("botocore")  # the 'bedrock' extra (in the dev extra too)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "BEDROCK_REGION", "BEDROCK_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    route = router.post("https://bedrock-runtime.eu-west-3.amazonaws.com/model/m-1/converse")
    route.respond(200, json=BEDROCK_OK)
    response = await BedrockConverseProvider("Bedrock_API", ProviderSettings()).send(
        chat_request("Bedrock_API"), api_key=None
    )
    assert response.text == "4"
    sent = route.calls.last.request
    authorization = sent.headers["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-3/bedrock/aws4_request" in authorization
    assert "Signature=" in authorization and "x-amz-date" in sent.headers
    assert "wJalrXUtnFEMI" not in str(sent.headers)  # the secret signs; it is never sent


async def test_bedrock_malformed(router: respx.MockRouter) -> None:
    router.post(url__regex=r".*/converse").respond(200, json={"output": {}})
    with pytest.raises(MalformedResponseError):
        await BedrockConverseProvider("Bedrock_API", ProviderSettings()).send(
            chat_request("Bedrock_API"), api_key=SECRET
        )


async def test_function_provider() -> None:
    seen: list[ChatRequest] = []

    async def generate(request: ChatRequest) -> str:
        seen.append(request)
        return "answer" if request.model == "good" else ""

    provider = FunctionProvider("Custom", generate)
    response = await provider.send(chat_request("Custom", model="good"), api_key=None)
    assert response.text == "answer" and seen[0].model == "good"
    with pytest.raises(MalformedResponseError, match="empty string"):
        await provider.send(chat_request("Custom", model="bad"), api_key=None)
    await provider.aclose()


async def test_function_provider_rejects_non_text_and_wraps_errors() -> None:
    async def returns_number(request: ChatRequest) -> str:
        return 42  # type: ignore[return-value]

    async def fails(request: ChatRequest) -> str:
        raise ValueError("model crashed")

    with pytest.raises(MalformedResponseError, match="int"):
        await FunctionProvider("Custom", returns_number).send(chat_request("Custom"), api_key=None)
    with pytest.raises(ProviderError, match="ValueError: model crashed") as caught:
        await FunctionProvider("Custom", fails).send(chat_request("Custom"), api_key=None)
    assert isinstance(caught.value.__cause__, ValueError)
