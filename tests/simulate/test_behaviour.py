"""Determinism, rate limits, faults, answer-key skill and stats, driven with raw httpx."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sim_helpers import Serve, user

from archon_async.simulate import FAULT_KINDS, SIMULATED_MARK, SimulatedServer


def openai_body(text: str, model: str = "m", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": user(text), **extra}


def endpoints(sim: SimulatedServer, model: str = "m") -> dict[str, tuple[str, dict[str, Any]]]:
    """One request per wire format, each asking ``"Hello there"``."""
    return {
        "openai": (f"{sim.openai_base_url}/chat/completions", openai_body("Hello there", model)),
        "anthropic": (
            f"{sim.anthropic_base_url}/v1/messages",
            {"model": model, "max_tokens": 256, "messages": user("Hello there")},
        ),
        "google": (
            f"{sim.google_base_url}/v1beta/models/{model}:generateContent",
            {"contents": [{"role": "user", "parts": [{"text": "Hello there"}]}]},
        ),
        "bedrock": (
            f"{sim.bedrock_base_url}/model/{model}/converse",
            {"messages": [{"role": "user", "content": [{"text": "Hello there"}]}]},
        ),
    }


def reply_text(wire: str, body: dict[str, Any]) -> str:
    if wire == "openai":
        return str(body["choices"][0]["message"]["content"])
    if wire == "anthropic":
        return str(body["content"][0]["text"])
    if wire == "google":
        return str(body["candidates"][0]["content"]["parts"][0]["text"])
    return str(body["output"]["message"]["content"][0]["text"])


async def chat(client: httpx.AsyncClient, sim: SimulatedServer, text: str, **extra: Any) -> str:
    reply = await client.post(
        f"{sim.openai_base_url}/chat/completions", json=openai_body(text, **extra)
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["choices"][0]["message"]["content"])


async def test_gemini_and_bedrock_reply_shapes(serve: Serve) -> None:
    sim = await serve()
    requests = endpoints(sim, "gemini-sim")
    async with httpx.AsyncClient() as client:
        google = (await client.post(requests["google"][0], json=requests["google"][1])).json()
        bedrock = (await client.post(requests["bedrock"][0], json=requests["bedrock"][1])).json()
    candidate = google["candidates"][0]
    assert candidate["content"]["role"] == "model"
    assert candidate["finishReason"] == "STOP"
    usage = google["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert bedrock["output"]["message"]["role"] == "assistant"
    assert bedrock["stopReason"] == "end_turn"
    usage = bedrock["usage"]
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"] > 0


async def test_same_request_same_reply_and_repeats_differ(serve: Serve) -> None:
    first_server, second_server = await serve(seed=3), await serve(seed=3)
    async with httpx.AsyncClient() as client:
        first = [await chat(client, first_server, "Describe a forest.") for _ in range(3)]
        second = [await chat(client, second_server, "Describe a forest.") for _ in range(3)]
        other_model = await chat(client, second_server, "Describe a forest.", model="other")
    assert first == second
    assert len(set(first)) == 3
    assert other_model not in first


async def test_the_seed_changes_replies(serve: Serve) -> None:
    one, two = await serve(seed=1), await serve(seed=2)
    async with httpx.AsyncClient() as client:
        assert await chat(client, one, "Hi") != await chat(client, two, "Hi")


async def test_generic_reply_length_follows_reply_tokens(serve: Serve) -> None:
    sim = await serve(reply_tokens=25)
    async with httpx.AsyncClient() as client:
        text = await chat(client, sim, "Say something")
    mark, body = text.split("\n", 1)
    assert mark == SIMULATED_MARK  # every simulated reply says what it is first
    assert len(body.split()) == 25


@pytest.mark.parametrize("wire", ["openai", "anthropic", "google", "bedrock"])
async def test_rpm_is_enforced_per_model(serve: Serve, wire: str) -> None:
    sim = await serve(rpm=3, models={"fast": {"rpm": 5}})
    statuses: dict[str, list[int]] = {"m": [], "fast": []}
    async with httpx.AsyncClient() as client:
        for model in statuses:
            url, body = endpoints(sim, model)[wire]
            for _ in range(7):
                reply = await client.post(url, json=body)
                statuses[model].append(reply.status_code)
                if reply.status_code == 429:
                    assert int(reply.headers["retry-after"]) >= 1
                    assert reply.headers["x-ratelimit-remaining-requests"] == "0"
    assert statuses["m"] == [200] * 3 + [429] * 4
    assert statuses["fast"] == [200] * 5 + [429] * 2
    stats = sim.stats()
    assert stats.rate_limited == 6
    assert stats.rate_limited_by_model == {"m": 4, "fast": 2}
    assert stats.replies == 8


ERROR_SHAPES: dict[str, Callable[[Any], bool]] = {
    "openai": lambda body: set(body["error"]) == {"message", "type", "param", "code"},
    "anthropic": lambda body: body["type"] == "error" and set(body["error"]) == {"type", "message"},
    "google": lambda body: set(body["error"]) == {"code", "message", "status"},
    "bedrock": lambda body: set(body) == {"message"},
}


@pytest.mark.parametrize("wire", ["openai", "anthropic", "google", "bedrock"])
async def test_errors_use_each_wire_format(serve: Serve, wire: str) -> None:
    sim = await serve(require_key=True, rpm=1)
    url, body = endpoints(sim, "m")[wire]
    async with httpx.AsyncClient() as client:
        missing = await client.post(url, json=body)
        key = {"authorization": "Bearer sk-anything"}
        bad = await client.post(url, content=b"{not json", headers=key)
        ok = await client.post(url, json=body, headers=key)
        limited = await client.post(url, json=body, headers=key)
    assert missing.status_code == 401
    assert bad.status_code == 400
    assert ok.status_code == 200
    assert limited.status_code == 429
    for reply in (missing, bad, limited):
        assert ERROR_SHAPES[wire](reply.json()), reply.text
        assert reply.headers["x-request-id"]
    if wire == "bedrock":
        assert limited.headers["x-amzn-ErrorType"] == "ThrottlingException"
    stats = sim.stats()
    assert (stats.unauthorized, stats.bad_requests, stats.rate_limited) == (1, 1, 1)


@pytest.mark.parametrize("wire", ["openai", "anthropic", "google", "bedrock"])
async def test_faults_at_rate_one_of_each_kind(serve: Serve, wire: str) -> None:
    for kind in FAULT_KINDS:
        sim = await serve(fault_rate=1.0, faults=[kind], timeout_fault_s=30)
        url, body = endpoints(sim)[wire]
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=0.3)) as client:
            if kind == "timeout":
                with pytest.raises(httpx.ReadTimeout):
                    await client.post(url, json=body)
            elif kind == "reset":
                with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
                    await client.post(url, json=body)
            else:
                reply = await client.post(url, json=body)
                check_fault_reply(kind, wire, reply)
        assert sim.stats().faults == {kind: 1}
        assert sim.stats().replies == 0


def check_fault_reply(kind: str, wire: str, reply: httpx.Response) -> None:
    if kind == "5xx":
        assert reply.status_code in (500, 503, 529)
        assert ERROR_SHAPES[wire](reply.json())
        return
    assert reply.status_code == 200
    if kind == "malformed":
        with pytest.raises(ValueError):
            reply.json()
        return
    body = reply.json()
    if wire == "openai":
        items = body["choices"]
    elif wire == "anthropic":
        items = body["content"]
    elif wire == "google":
        items = body["candidates"]
    else:
        items = body["output"]["message"]["content"]
    assert items == [] or reply_text(wire, body) == ""


async def test_faults_are_drawn_per_attempt_so_retries_can_succeed(serve: Serve) -> None:
    sim = await serve(fault_rate=0.5, faults=["5xx"], seed=11)
    async with httpx.AsyncClient() as client:
        statuses = []
        for _ in range(40):
            reply = await client.post(
                f"{sim.openai_base_url}/chat/completions", json=openai_body("same")
            )
            statuses.append(reply.status_code)
    assert 5 < statuses.count(200) < 35
    again = await serve(fault_rate=0.5, faults=["5xx"], seed=11)
    async with httpx.AsyncClient() as client:
        replay = [
            (
                await client.post(
                    f"{again.openai_base_url}/chat/completions", json=openai_body("same")
                )
            ).status_code
            for _ in range(40)
        ]
    assert replay == statuses


async def test_a_fault_does_not_use_up_a_sample(serve: Serve) -> None:
    clean = await serve(seed=5)
    faulty = await serve(seed=5, fault_rate=0.5, faults=["5xx"])
    async with httpx.AsyncClient() as client:
        expected = [await chat(client, clean, "Plan a trip.") for _ in range(3)]
        got: list[str] = []
        while len(got) < 3:
            reply = await client.post(
                f"{faulty.openai_base_url}/chat/completions", json=openai_body("Plan a trip.")
            )
            if reply.status_code == 200:
                got.append(reply.json()["choices"][0]["message"]["content"])
    assert got == expected


QUESTIONS = {f"What is {n} plus {n}?": str(2 * n) for n in range(1, 31)}


@pytest.mark.parametrize(("skill", "expected"), [(1.0, 30), (0.0, 0)])
async def test_answer_key_skill_extremes(serve: Serve, skill: float, expected: int) -> None:
    sim = await serve(answer_key=QUESTIONS, models={"solver": {"skill": skill}}, skill=0.5)
    correct = 0
    async with httpx.AsyncClient() as client:
        for question, answer in QUESTIONS.items():
            text = await chat(client, sim, f"  {question}\n", model="solver")
            assert "The answer is " in text
            correct += f"The answer is {answer}." in text and f"#### {answer}" in text
    assert correct == expected


async def test_answer_key_skill_in_between_and_by_id(serve: Serve) -> None:
    sim = await serve(answer_key={**QUESTIONS, "q-7": "seven"}, skill=0.5, seed=2)
    async with httpx.AsyncClient() as client:
        texts = [await chat(client, sim, question) for question in QUESTIONS]
        correct = sum(
            f"The answer is {answer}." in text
            for text, answer in zip(texts, QUESTIONS.values(), strict=True)
        )
        by_id = [
            await chat(client, sim, "Count to seven?", metadata={"question_id": "q-7"})
            for _ in range(20)
        ]
    assert 5 <= correct <= 25
    assert all("The answer is " in text for text in by_id)
    assert any("The answer is seven." in text for text in by_id)
    assert not all("The answer is seven." in text for text in by_id)


async def test_score_prefers_candidates_with_the_right_answer(serve: Serve) -> None:
    sim = await serve(answer_key={"What is 6 times 7?": "42"})
    body = {
        "model": "llm-blender/PairRM",
        "query": "What is 6 times 7?",
        "candidates": ["The answer is 41.", "The answer is 42.", "I am not sure.", "#### 42"],
    }
    async with httpx.AsyncClient() as client:
        first = (await client.post(f"{sim.base_url}/score", json=body)).json()["scores"]
        second = (await client.post(f"{sim.base_url}/score", json=body)).json()["scores"]
        bad = await client.post(f"{sim.base_url}/score", json={"query": 1})
    assert first == second
    assert len(first) == 4
    assert min(first[1], first[3]) > max(first[0], first[2])
    assert bad.status_code == 400


async def test_stats_endpoint_counts_and_resets(serve: Serve) -> None:
    sim = await serve()
    async with httpx.AsyncClient() as client:
        for wire, (url, body) in endpoints(sim, "m1").items():
            assert (await client.post(url, json=body)).status_code == 200, wire
        await chat(client, sim, "again", model="m2")
        stats = (await client.get(f"{sim.base_url}/stats")).json()
        reset = (await client.post(f"{sim.base_url}/stats/reset")).json()
    assert stats["requests"] == 5
    assert stats["replies"] == 5
    assert stats["by_endpoint"] == {
        "openai.chat_completions": 2,
        "anthropic.messages": 1,
        "google.generate_content": 1,
        "bedrock.converse": 1,
    }
    assert stats["by_model"] == {"m1": 4, "m2": 1}
    assert stats["by_task"] == {"generate": 5}
    assert stats["prompt_tokens"] > 0
    assert stats["completion_tokens"] > 0
    assert stats["in_flight"] == 0
    assert stats["in_flight_max"] == 1
    assert reset["requests"] == 0
    assert sim.stats().requests == 0


async def test_in_flight_max_counts_concurrent_requests(serve: Serve) -> None:
    sim = await serve(latency_s=0.2)
    async with httpx.AsyncClient() as client:
        await asyncio.gather(*(chat(client, sim, f"q{index}") for index in range(5)))
    assert sim.stats().in_flight_max == 5
    assert sim.stats().in_flight == 0


async def test_closing_the_server_ends_hung_requests(serve: Serve) -> None:
    sim = await serve(fault_rate=1.0, faults=["timeout"], timeout_fault_s=60)
    async with httpx.AsyncClient(timeout=30) as client:
        request = asyncio.ensure_future(
            client.post(f"{sim.openai_base_url}/chat/completions", json=openai_body("q"))
        )
        # Polling the server's own counter: there is no event to wait on from outside.
        while sim.stats().in_flight == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await sim.aclose()
        with pytest.raises(httpx.HTTPError):
            await request
    assert sim.stats().in_flight == 0
