"""The simulator's bodies validate as the SDKs' own models, with no field they do not know."""

from __future__ import annotations

from typing import Any

import anthropic.types
import httpx
import openai.types.chat
import openai.types.shared
import pydantic
import pytest
from sim_helpers import Serve, user

from archon_async.simulate import SimulatedServer


def assert_known_fields_only(model: pydantic.BaseModel, where: str = "body") -> None:
    """The SDK models allow extra fields silently; a field they do not define is a typo."""
    assert not model.model_extra, f"{where} has unknown fields {sorted(model.model_extra)}"
    for name in type(model).model_fields:
        value = getattr(model, name)
        children = value if isinstance(value, list) else [value]
        for index, child in enumerate(children):
            if isinstance(child, pydantic.BaseModel):
                assert_known_fields_only(child, f"{where}.{name}[{index}]")


async def _post(
    sim: SimulatedServer, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{sim.base_url}{path}", json=body, headers=headers)


@pytest.mark.parametrize("max_tokens", [None, 5])
async def test_openai_replies_validate_as_chat_completions(
    serve: Serve, max_tokens: int | None
) -> None:
    sim = await serve(rpm=100, reply_tokens=40)
    body: dict[str, Any] = {"model": "gpt-sim", "messages": user("Tell me about rivers."), "n": 2}
    if max_tokens:
        body["max_tokens"] = max_tokens
    reply = await _post(sim, "/v1/chat/completions", body)
    assert reply.status_code == 200
    completion = openai.types.chat.ChatCompletion.model_validate(reply.json())
    assert_known_fields_only(completion)
    assert [choice.index for choice in completion.choices] == [0, 1]
    expected = "length" if max_tokens else "stop"
    assert {choice.finish_reason for choice in completion.choices} == {expected}


async def _openai_errors(serve: Serve) -> list[httpx.Response]:
    sim = await serve(rpm=1, require_key=True, keys={"spent": {"refuse": "quota"}})
    url = "/v1/chat/completions"
    good = {"model": "m", "messages": user("hi")}
    key = {"authorization": "Bearer k"}
    replies = [
        await _post(sim, url, good),  # 401: no key
        await _post(sim, url, {"model": "m"}, key),  # 400: no messages
        await _post(sim, url, good, {"authorization": "Bearer spent"}),  # 429: out of quota
        await _post(sim, url, good, key),  # 200
        await _post(sim, url, good, key),  # 429: rate limited
    ]
    faulty = await serve(fault_rate=1.0, faults=["5xx"])
    replies.append(await _post(faulty, url, good))
    return replies


async def test_openai_errors_validate_as_error_objects(serve: Serve) -> None:
    replies = await _openai_errors(serve)
    assert [reply.status_code for reply in replies][:5] == [401, 400, 429, 200, 429]
    assert replies[5].status_code in (500, 503)
    for reply in replies:
        if reply.status_code == 200:
            continue
        body = reply.json()
        assert set(body) == {"error"}
        error = openai.types.shared.ErrorObject.model_validate(body["error"])
        assert_known_fields_only(error)
        assert error.message


@pytest.mark.parametrize("max_tokens", [1024, 5])
async def test_anthropic_replies_validate_as_messages(serve: Serve, max_tokens: int) -> None:
    sim = await serve(reply_tokens=40)
    body = {"model": "claude-sim", "max_tokens": max_tokens, "messages": user("Rivers?")}
    reply = await _post(sim, "/v1/messages", body)
    assert reply.status_code == 200
    message = anthropic.types.Message.model_validate(reply.json())
    assert_known_fields_only(message)
    assert message.stop_reason == ("max_tokens" if max_tokens == 5 else "end_turn")
    assert message.content and message.content[0].type == "text"


async def test_anthropic_errors_validate_as_error_responses(serve: Serve) -> None:
    sim = await serve(rpm=1, require_key=True, keys={"spent": {"refuse": "quota"}})
    good = {"model": "c", "max_tokens": 16, "messages": user("hi")}
    key = {"x-api-key": "k"}
    replies = [
        await _post(sim, "/v1/messages", good),  # 401
        await _post(sim, "/v1/messages", {"model": "c", "messages": user("hi")}, key),  # 400
        await _post(sim, "/v1/messages", good, {"x-api-key": "spent"}),  # 400: no credit
        await _post(sim, "/v1/messages", good, key),  # 200
        await _post(sim, "/v1/messages", good, key),  # 429
    ]
    overloaded = await serve(fault_rate=1.0, faults=["5xx"], seed=1)
    replies += [await _post(overloaded, "/v1/messages", good) for _ in range(6)]
    statuses = [reply.status_code for reply in replies]
    assert statuses[:5] == [401, 400, 400, 200, 429]
    assert set(statuses[5:]) == {500, 529}
    kinds = set()
    for reply in replies:
        if reply.status_code == 200:
            continue
        error = anthropic.types.ErrorResponse.model_validate(reply.json())
        assert_known_fields_only(error)
        kinds.add(error.error.type)
    assert kinds == {
        "authentication_error",
        "invalid_request_error",
        "rate_limit_error",
        "api_error",
        "overloaded_error",
    }
