"""The simulated provider refuses what the real APIs refuse, and replays seeded requests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sim_helpers import Serve, user

from archon_async.simulate import SimulatedServer


async def _anthropic(sim: SimulatedServer, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{sim.anthropic_base_url}/v1/messages", json=body)


async def _openai(
    sim: SimulatedServer, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(
            f"{sim.openai_base_url}/chat/completions", json=body, headers=headers
        )


def _anthropic_error(reply: httpx.Response) -> str:
    """The message of an Anthropic 400, after checking the body has Anthropic's shape."""
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    return str(body["error"]["message"])


async def test_anthropic_requires_max_tokens(serve: Serve) -> None:
    sim = await serve()
    reply = await _anthropic(sim, {"model": "c", "messages": user("hi")})
    assert "max_tokens" in _anthropic_error(reply)
    assert sim.stats().bad_requests == 1


async def test_anthropic_refuses_a_system_message(serve: Serve) -> None:
    sim = await serve()
    messages = [{"role": "system", "content": "Be brief."}, *user("hi")]
    reply = await _anthropic(sim, {"model": "c", "max_tokens": 16, "messages": messages})
    message = _anthropic_error(reply)
    assert '"system"' in message and "top-level" in message


@pytest.mark.parametrize("role", ["tool", "developer", "model"])
async def test_anthropic_refuses_other_roles(serve: Serve, role: str) -> None:
    sim = await serve()
    messages = [{"role": role, "content": "x"}, *user("hi")]
    reply = await _anthropic(sim, {"model": "c", "max_tokens": 16, "messages": messages})
    assert role in _anthropic_error(reply)


async def test_anthropic_accepts_a_top_level_system(serve: Serve) -> None:
    sim = await serve()
    body = {"model": "c", "max_tokens": 16, "system": "Be brief.", "messages": user("hi")}
    assert (await _anthropic(sim, body)).status_code == 200


@pytest.mark.parametrize("field", ["temperature", "top_p", "top_k"])
async def test_anthropic_2026_10_21_refuses_sampling_parameters(serve: Serve, field: str) -> None:
    sim = await serve()
    body = {"model": "c", "max_tokens": 16, "messages": user("hi"), field: 1}
    async with httpx.AsyncClient() as client:
        url = f"{sim.anthropic_base_url}/v1/messages"
        new = await client.post(url, json=body, headers={"anthropic-version": "2026-10-21"})
        old = await client.post(url, json=body, headers={"anthropic-version": "2023-06-01"})
    assert field in _anthropic_error(new)
    assert old.status_code == 200  # the version our adapter speaks still takes them


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": user("hi")}, "model"),
        ({"model": "", "messages": user("hi")}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
    ],
)
async def test_openai_requires_model_and_messages(
    serve: Serve, body: dict[str, Any], field: str
) -> None:
    sim = await serve()
    reply = await _openai(sim, body)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert field in error["message"]


async def _texts(sim: SimulatedServer, body: dict[str, Any], **headers: str) -> list[str]:
    reply = await _openai(sim, body, headers)
    assert reply.status_code == 200, reply.text
    return [choice["message"]["content"] for choice in reply.json()["choices"]]


async def test_a_repeated_request_is_the_next_sample(serve: Serve) -> None:
    sim = await serve()
    body = {"model": "m", "messages": user("Describe a lake.")}
    assert await _texts(sim, body) != await _texts(sim, body)


async def test_a_seeded_request_is_replayed_exactly(serve: Serve) -> None:
    sim = await serve()
    seeded = {"model": "m", "messages": user("Describe a lake."), "seed": 7, "n": 2}
    first, again = await _texts(sim, seeded), await _texts(sim, seeded)
    assert first == again
    assert first[0] != first[1]  # n choices of one request still differ
    other_seed = await _texts(sim, {**seeded, "seed": 8})
    assert other_seed != first


async def test_the_replay_header_works_on_any_wire(serve: Serve) -> None:
    sim = await serve()
    body = {"model": "c", "max_tokens": 64, "messages": user("Describe a lake.")}
    async with httpx.AsyncClient() as client:
        url = f"{sim.anthropic_base_url}/v1/messages"
        replies = [
            (await client.post(url, json=body, headers={"x-simulate-seed": "1"})).json()
            for _ in range(2)
        ]
        other = (await client.post(url, json=body, headers={"x-simulate-seed": "2"})).json()
    assert replies[0]["content"] == replies[1]["content"]
    assert replies[0]["id"] == replies[1]["id"]
    assert other["content"] != replies[0]["content"]


async def test_replays_leave_the_unseeded_samples_alone(serve: Serve) -> None:
    fresh, replayed = await serve(), await serve()
    body = {"model": "m", "messages": user("Describe a lake.")}
    expected = [await _texts(fresh, body) for _ in range(2)]
    await _texts(replayed, body, **{"x-simulate-seed": "3"})
    assert [await _texts(replayed, body) for _ in range(2)] == expected
