"""The simulated provider refuses what the providers' documentation forbids, in each API's
own error shape: reasoning-model parameters, Anthropic output limits, role order."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from sim_helpers import Serve, user

from archon_async.simulate import SimulatedServer

SYSTEM_AND_USER = [{"role": "system", "content": "Be brief."}, *user("hi")]


async def _post(url: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(url, json=body, headers=headers)


def _openai_error(reply: httpx.Response) -> dict[str, Any]:
    assert reply.status_code == 400, reply.text
    error: dict[str, Any] = reply.json()["error"]
    assert error["type"] == "invalid_request_error"
    return error


@pytest.mark.parametrize(
    ("field", "value", "param", "code", "message"),
    [
        (
            "max_tokens",
            64,
            "max_tokens",
            "unsupported_parameter",
            "Use 'max_completion_tokens' instead.",
        ),
        (
            "temperature",
            0.7,
            "temperature",
            "unsupported_value",
            "'temperature' does not support 0.7 with this model. Only the default (1)",
        ),
        ("top_p", 0.9, "top_p", "unsupported_parameter", "'top_p' is not supported"),
        ("stop", ["x"], "stop", "unsupported_parameter", "'stop' is not supported"),
    ],
)
async def test_reasoning_models_refuse_what_openai_refuses(
    serve: Serve, field: str, value: Any, param: str, code: str, message: str
) -> None:
    sim = await serve()
    url = f"{sim.openai_base_url}/chat/completions"
    error = _openai_error(
        await _post(url, {"model": "o4-mini", "messages": user("hi"), field: value})
    )
    assert (error["param"], error["code"]) == (param, code)
    assert message in error["message"]
    # The same field is fine on a chat model, and temperature 1 on a reasoning model.
    assert (await _post(url, {"model": "gpt-4o", "messages": user("hi"), field: value})).is_success
    fine = {
        "model": "o4-mini",
        "messages": user("hi"),
        "temperature": 1,
        "max_completion_tokens": 9,
    }
    assert (await _post(url, fine)).is_success
    assert sim.stats().bad_requests == 1


async def test_o1_mini_refuses_a_system_message_through_the_openai_sdk(serve: Serve) -> None:
    sim = await serve()
    client = openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="sk-sim", max_retries=0)
    async with client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model="o1-mini", messages=SYSTEM_AND_USER)
        reply = await client.chat.completions.create(model="o3-mini", messages=SYSTEM_AND_USER)
    assert caught.value.code == "unsupported_value"
    assert caught.value.param == "messages[0].role"
    assert reply.choices[0].message.content


def _anthropic_message(reply: httpx.Response) -> str:
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    return str(body["error"]["message"])


@pytest.mark.parametrize(
    ("model", "max_tokens", "beta", "limit"),
    [
        ("claude-3-5-sonnet-20240620", 8193, "max-tokens-3-5-sonnet-2024-07-15", 8192),
        ("claude-3-5-sonnet-20240620", 4097, "", 4096),
        ("claude-3-opus-20240229", 4097, "", 4096),
        ("claude-sonnet-4-5-20250929", 64001, "", 64000),
    ],
)
async def test_anthropic_refuses_max_tokens_above_the_model_limit(
    serve: Serve, model: str, max_tokens: int, beta: str, limit: int
) -> None:
    sim = await serve()
    url = f"{sim.anthropic_base_url}/v1/messages"
    headers = {"anthropic-beta": beta} if beta else {}
    body = {"model": model, "max_tokens": max_tokens, "messages": user("hi")}
    message = _anthropic_message(await _post(url, body, **headers))
    assert message == (
        f"max_tokens: {max_tokens} > {limit}, which is the maximum allowed number of output "
        f"tokens for {model}"
    )
    assert (await _post(url, {**body, "max_tokens": limit}, **headers)).is_success


@pytest.mark.parametrize(
    ("roles", "wording"),
    [
        (["assistant", "user"], 'first message must use the "user" role'),
        (["user", "user"], 'found multiple "user" roles in a row'),
        (["user", "assistant", "assistant", "user"], 'multiple "assistant" roles'),
    ],
)
async def test_anthropic_and_bedrock_refuse_turns_out_of_order(
    serve: Serve, roles: list[str], wording: str
) -> None:
    sim = await serve()
    messages = [{"role": role, "content": f"turn {i}"} for i, role in enumerate(roles)]
    body = {"model": "claude-3-haiku-20240307", "max_tokens": 16, "messages": messages}
    assert wording in _anthropic_message(await _post(f"{sim.base_url}/v1/messages", body))

    converse = {
        "messages": [{"role": m["role"], "content": [{"text": m["content"]}]} for m in messages]
    }
    reply = await _post(f"{sim.bedrock_base_url}/model/amazon.nova-lite-v1%3A0/converse", converse)
    assert reply.status_code == 400
    assert reply.headers["x-amzn-ErrorType"] == "ValidationException"
    expected = "must start with a user message" if roles[0] != "user" else "must alternate"
    assert expected in reply.json()["message"]


async def test_bedrock_refuses_claude_max_tokens_above_the_limit(serve: Serve) -> None:
    sim = await serve()
    url = f"{sim.bedrock_base_url}/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse"
    body = {
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
        "inferenceConfig": {"maxTokens": 9000},
    }
    reply = await _post(url, body)
    assert reply.status_code == 400
    assert reply.json()["message"].startswith(
        "The maximum tokens you requested exceeds the model limit of 8192."
    )


async def test_lenient_settings_serve_what_the_apis_refuse(serve: Serve) -> None:
    sim: SimulatedServer = await serve(enforce_request_rules=False)
    body = {"model": "o1", "messages": user("hi"), "max_tokens": 5, "temperature": 0.2}
    assert (await _post(f"{sim.openai_base_url}/chat/completions", body)).is_success
