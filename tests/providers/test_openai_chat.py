"""The OpenAI-compatible adapter: request shape, base URLs, parsing, error mapping."""

from __future__ import annotations

import httpx
import orjson
import pytest
import respx

from archon_async.core import (
    AuthenticationError,
    BadRequestError,
    ConfigError,
    MalformedResponseError,
    ProviderConnectionError,
    ProviderServerError,
    ProviderSettings,
    ProviderStatusError,
    ProviderTimeoutError,
    RateLimitError,
)
from archon_async.providers.openai_chat import OpenAIChatProvider
from tests.providers.helpers import MESSAGES, SECRET, chat_request

OK = {
    "id": "c1",
    "model": "gpt-x",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "4"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13},
}


async def test_request_shape_and_parsing(router: respx.MockRouter) -> None:
    route = router.post("https://api.openai.com/v1/chat/completions").respond(
        200, json=OK, headers={"x-ratelimit-remaining-requests": "99", "server": "x"}
    )
    provider = OpenAIChatProvider("OpenAI_API", ProviderSettings())
    response = await provider.send(chat_request("OpenAI_API", extra={"seed": 7}), api_key=SECRET)
    await provider.aclose()

    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    assert sent.headers["content-type"] == "application/json"
    assert orjson.loads(sent.content) == {
        "model": "m-1",
        "messages": MESSAGES,
        "temperature": 0.5,
        "max_tokens": 64,
        "seed": 7,
    }
    assert response.text == "4"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 1)
    assert response.model == "gpt-x" and response.finish_reason == "stop"
    assert response.headers == {"x-ratelimit-remaining-requests": "99"}


@pytest.mark.parametrize(
    ("model_type", "url"),
    [
        ("Together_API", "https://api.together.xyz/v1/chat/completions"),
        ("Groq_API", "https://api.groq.com/openai/v1/chat/completions"),
    ],
)
async def test_vendor_default_urls(router: respx.MockRouter, model_type: str, url: str) -> None:
    route = router.post(url).respond(200, json=OK)
    provider = OpenAIChatProvider(model_type, ProviderSettings())
    await provider.send(chat_request(model_type), api_key=SECRET)
    assert route.called


async def test_base_url_precedence(
    router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = router.post("http://env.local/v1/chat/completions").respond(200, json=OK)
    settings = router.post("http://settings.local/v1/chat/completions").respond(200, json=OK)
    component = router.post("http://component.local/v1/chat/completions").respond(200, json=OK)
    monkeypatch.setenv("TOGETHER_BASE_URL", "http://env.local/v1")

    await OpenAIChatProvider("Together_API", ProviderSettings()).send(
        chat_request("Together_API"), api_key=None
    )
    configured = OpenAIChatProvider(
        "Together_API", ProviderSettings(base_url="http://settings.local/v1/")
    )
    await configured.send(chat_request("Together_API"), api_key=None)
    await configured.send(
        chat_request("Together_API", base_url="http://component.local/v1"), api_key=None
    )
    assert (env.call_count, settings.call_count, component.call_count) == (1, 1, 1)


async def test_self_hosted_without_key_sends_no_auth(
    router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLM_BASE_URL", "http://127.0.0.1:8000/v1")
    route = router.post("http://127.0.0.1:8000/v1/chat/completions").respond(200, json=OK)
    await OpenAIChatProvider("vLLM", ProviderSettings()).send(chat_request("vLLM"), api_key=None)
    assert "authorization" not in route.calls.last.request.headers


async def test_self_hosted_without_base_url_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TGI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="TGI_BASE_URL"):
        await OpenAIChatProvider("tgi", ProviderSettings()).send(chat_request("tgi"), api_key=None)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (404, BadRequestError),
        (422, BadRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (429, RateLimitError),
        (500, ProviderServerError),
        (503, ProviderServerError),
        (408, ProviderStatusError),
    ],
)
async def test_status_codes_map_to_errors(
    router: respx.MockRouter, status: int, error: type[Exception]
) -> None:
    body = {"error": {"message": f"Incorrect API key provided: {SECRET}", "type": "x"}}
    router.post("https://api.openai.com/v1/chat/completions").respond(
        status, json=body, headers={"x-request-id": "req-1"}
    )
    provider = OpenAIChatProvider("OpenAI_API", ProviderSettings())
    with pytest.raises(error) as caught:
        await provider.send(chat_request("OpenAI_API"), api_key=SECRET)
    assert type(caught.value) is error
    assert caught.value.status_code == status  # type: ignore[attr-defined]
    assert caught.value.request_id == "req-1"  # type: ignore[attr-defined]
    assert f"HTTP {status}" in str(caught.value) and "OpenAI_API m-1" in str(caught.value)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)
    assert SECRET not in (caught.value.body or "")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1m30s"}, 90.0),
        ({}, None),
    ],
)
async def test_rate_limit_carries_retry_after(
    router: respx.MockRouter, headers: dict[str, str], expected: float | None
) -> None:
    router.post("https://api.openai.com/v1/chat/completions").respond(
        429, json={"error": {"message": "slow down"}}, headers=headers
    )
    with pytest.raises(RateLimitError) as caught:
        await OpenAIChatProvider("OpenAI_API", ProviderSettings()).send(
            chat_request("OpenAI_API"), api_key=SECRET
        )
    assert caught.value.retry_after == expected
    assert "slow down" in str(caught.value)


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, content=b"{not json"),
        httpx.Response(200, json=[1, 2]),
        httpx.Response(200, json={"choices": []}),
        httpx.Response(200, json={"choices": [{"message": {"content": ""}}]}),
        httpx.Response(200, json={"choices": [{"message": {"content": None}}]}),
        httpx.Response(200, json={"id": "x"}),
    ],
)
async def test_malformed_replies(router: respx.MockRouter, reply: httpx.Response) -> None:
    router.post("https://api.openai.com/v1/chat/completions").mock(return_value=reply)
    with pytest.raises(MalformedResponseError):
        await OpenAIChatProvider("OpenAI_API", ProviderSettings()).send(
            chat_request("OpenAI_API"), api_key=SECRET
        )


@pytest.mark.parametrize(
    ("raised", "error"),
    [
        (httpx.ReadTimeout("slow"), ProviderTimeoutError),
        (httpx.ConnectError("refused"), ProviderConnectionError),
        (httpx.RemoteProtocolError("reset"), ProviderConnectionError),
    ],
)
async def test_transport_errors(
    router: respx.MockRouter, raised: Exception, error: type[Exception]
) -> None:
    router.post("https://api.openai.com/v1/chat/completions").mock(side_effect=raised)
    with pytest.raises(error) as caught:
        await OpenAIChatProvider("OpenAI_API", ProviderSettings()).send(
            chat_request("OpenAI_API"), api_key=SECRET
        )
    assert type(caught.value) is error
    # Not chained: the httpx error's request carries the key's header.
    assert caught.value.__cause__ is None and caught.value.__context__ is None
