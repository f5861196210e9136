"""The official openai and anthropic SDKs accept the simulated provider's replies and errors."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest
from sim_helpers import Serve, user


async def test_openai_sdk_parses_a_reply_with_usage_and_headers(serve: Serve) -> None:
    sim = await serve(rpm=100)
    async with openai.AsyncOpenAI(
        base_url=sim.openai_base_url, api_key="sk-test", max_retries=0
    ) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-sim", messages=user("Tell me about rivers.")
        )
        reply = raw.parse()
    assert reply.object == "chat.completion"
    assert reply.model == "gpt-sim"
    assert reply.id.startswith("chatcmpl-")
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    assert reply.usage.completion_tokens > 0
    assert raw.headers["x-request-id"].startswith("req_")
    assert raw.headers["x-ratelimit-limit-requests"] == "100"
    assert raw.headers["x-ratelimit-remaining-requests"] == "99"
    assert raw.headers["x-ratelimit-reset-requests"].endswith("s")


async def test_openai_sdk_n_choices_differ(serve: Serve) -> None:
    sim = await serve()
    async with openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0) as c:
        reply = await c.chat.completions.create(model="m", messages=user("Hello"), n=3)
    texts = [choice.message.content for choice in reply.choices]
    assert [choice.index for choice in reply.choices] == [0, 1, 2]
    assert len(set(texts)) == 3


async def test_openai_sdk_sees_max_tokens_cut(serve: Serve) -> None:
    sim = await serve(reply_tokens=200)
    async with openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0) as c:
        reply = await c.chat.completions.create(model="m", messages=user("Hi"), max_tokens=13)
    assert reply.choices[0].finish_reason == "length"
    assert reply.choices[0].message.content is not None
    assert len(reply.choices[0].message.content.split()) == 10


async def test_openai_sdk_raises_rate_limit_error_with_retry_after(serve: Serve) -> None:
    sim = await serve(rpm=1)
    async with openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0) as c:
        await c.chat.completions.create(model="m", messages=user("one"))
        with pytest.raises(openai.RateLimitError) as caught:
            await c.chat.completions.create(model="m", messages=user("two"))
    error = caught.value
    assert error.status_code == 429
    assert int(error.response.headers["retry-after"]) >= 1
    assert int(error.response.headers["retry-after-ms"]) >= 1
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert error.code == "rate_limit_exceeded"
    assert error.request_id is not None


async def test_openai_sdk_raises_server_errors(serve: Serve) -> None:
    sim = await serve(fault_rate=1.0, faults=["5xx"])
    async with openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0) as c:
        statuses = set()
        for index in range(8):
            with pytest.raises(openai.InternalServerError) as caught:
                await c.chat.completions.create(model="m", messages=user(f"q{index}"))
            assert caught.value.type == "server_error"
            statuses.add(caught.value.status_code)
    assert statuses == {500, 503}


async def test_openai_sdk_fails_on_malformed_json(serve: Serve) -> None:
    sim = await serve(fault_rate=1.0, faults=["malformed"])
    async with openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0) as c:
        # The SDK lets the decoder's error through (a ValueError), not one of its own.
        with pytest.raises(json.JSONDecodeError):
            await c.chat.completions.create(model="m", messages=user("q"))


async def test_openai_sdk_reports_reset_and_timeout_as_connection_errors(serve: Serve) -> None:
    sim = await serve(fault_rate=1.0, faults=["reset"])
    async with openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0) as c:
        with pytest.raises(openai.APIConnectionError) as caught:
            await c.chat.completions.create(model="m", messages=user("q"))
    assert not isinstance(caught.value, openai.APITimeoutError)

    sim = await serve(fault_rate=1.0, faults=["timeout"], timeout_fault_s=30)
    async with openai.AsyncOpenAI(
        base_url=sim.openai_base_url, api_key="k", max_retries=0, timeout=0.3
    ) as c:
        with pytest.raises(openai.APITimeoutError):
            await c.chat.completions.create(model="m", messages=user("q"))


async def test_openai_sdk_authentication_error_when_key_required(serve: Serve) -> None:
    sim = await serve(require_key=True)
    # The SDK insists on a key; an empty Authorization header sends none.
    async with openai.AsyncOpenAI(
        base_url=sim.openai_base_url,
        api_key="unused",
        max_retries=0,
        default_headers={"Authorization": ""},
    ) as c:
        with pytest.raises(openai.AuthenticationError) as caught:
            await c.chat.completions.create(model="m", messages=user("q"))
    assert caught.value.code == "invalid_api_key"
    async with openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0) as c:
        reply = await c.chat.completions.create(model="m", messages=user("q"))
    assert reply.choices
    assert sim.stats().unauthorized == 1


async def test_openai_sdk_lists_models(serve: Serve) -> None:
    sim = await serve(models={"alpha": {"skill": 0.5}})
    async with openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0) as c:
        await c.chat.completions.create(model="beta", messages=user("q"))
        page = await c.models.list()
    assert [model.id for model in page.data] == ["alpha", "beta"]


async def test_anthropic_sdk_parses_a_message(serve: Serve) -> None:
    sim = await serve(rpm=10)
    async with anthropic.AsyncAnthropic(
        base_url=sim.anthropic_base_url, api_key="sk-ant-test", max_retries=0
    ) as client:
        raw = await client.messages.with_raw_response.create(
            model="claude-sim",
            max_tokens=512,
            system="Be brief.",
            messages=[{"role": "user", "content": "Tell me about lakes."}],
        )
        message = await raw.parse()
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == "claude-sim"
    assert message.stop_reason == "end_turn"
    assert message.content[0].type == "text"
    assert message.content[0].text
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0
    assert raw.headers["request-id"].startswith("req_")
    assert raw.headers["anthropic-ratelimit-requests-limit"] == "10"
    assert raw.headers["anthropic-ratelimit-requests-remaining"] == "9"


async def test_anthropic_sdk_raises_its_error_classes(serve: Serve) -> None:
    sim = await serve(rpm=1)
    async with anthropic.AsyncAnthropic(
        base_url=sim.anthropic_base_url, api_key="k", max_retries=0
    ) as client:
        messages = [{"role": "user", "content": "q"}]
        await client.messages.create(model="c", max_tokens=64, messages=messages)  # type: ignore[arg-type]
        with pytest.raises(anthropic.RateLimitError) as caught:
            await client.messages.create(model="c", max_tokens=64, messages=messages)  # type: ignore[arg-type]
    assert int(caught.value.response.headers["retry-after"]) >= 1
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": caught.value.body["error"]["message"]},  # type: ignore[index]
    }

    sim = await serve(fault_rate=1.0, faults=["5xx"])
    async with anthropic.AsyncAnthropic(
        base_url=sim.anthropic_base_url, api_key="k", max_retries=0
    ) as client:
        statuses = set()
        for index in range(8):
            with pytest.raises(anthropic.APIStatusError) as failure:
                await client.messages.create(
                    model="c", max_tokens=64, messages=[{"role": "user", "content": f"q{index}"}]
                )
            statuses.add(failure.value.status_code)
    assert statuses == {500, 529}


async def test_anthropic_sdk_authentication_error_when_key_required(serve: Serve) -> None:
    sim = await serve(require_key=True)
    async with anthropic.AsyncAnthropic(
        base_url=sim.anthropic_base_url,
        api_key="unused",
        max_retries=0,
        # The SDK refuses to send no credentials at all; these carry no key.
        default_headers={"x-api-key": "", "Authorization": "Bearer"},
    ) as client:
        with pytest.raises(anthropic.AuthenticationError) as caught:
            await client.messages.create(
                model="c", max_tokens=64, messages=[{"role": "user", "content": "q"}]
            )
    assert caught.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]


async def test_anthropic_sdk_lists_models(serve: Serve) -> None:
    sim = await serve(models={"claude-a": {}})
    async with anthropic.AsyncAnthropic(
        base_url=sim.anthropic_base_url, api_key="k", max_retries=0
    ) as client:
        page = await client.models.list()
    assert [model.id for model in page.data] == ["claude-a"]
