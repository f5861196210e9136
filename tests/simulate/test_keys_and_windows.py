"""Per-key behaviour, short rate windows and the request log of the simulated provider."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sim_helpers import Serve, user

from archon_async.simulate import SimulatedServer, _simulator


def _post(
    sim: SimulatedServer, wire: str, key: str | None
) -> tuple[str, dict[str, Any], dict[str, str]]:
    """URL, body and key headers of a minimal request of ``wire``."""
    body: dict[str, Any]
    if wire == "openai":
        headers = {"authorization": f"Bearer {key}"} if key else {}
        body = {"model": "m", "messages": user("hi")}
        return f"{sim.openai_base_url}/chat/completions", body, headers
    if wire == "anthropic":
        headers = {"x-api-key": key} if key else {}
        body = {"model": "m", "max_tokens": 32, "messages": user("hi")}
        return f"{sim.anthropic_base_url}/v1/messages", body, headers
    if wire == "google":
        headers = {"x-goog-api-key": key} if key else {}
        body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        return f"{sim.google_base_url}/v1beta/models/m:generateContent", body, headers
    headers = {"authorization": f"Bearer {key}"} if key else {}
    body = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    return f"{sim.bedrock_base_url}/model/m/converse", body, headers


async def _statuses(
    sim: SimulatedServer, key: str | None, count: int, wire: str = "openai"
) -> list[int]:
    url, body, headers = _post(sim, wire, key)
    async with httpx.AsyncClient() as client:
        return [
            (await client.post(url, json=body, headers=headers)).status_code for _ in range(count)
        ]


@pytest.mark.parametrize("wire", ["openai", "anthropic", "google", "bedrock"])
async def test_a_key_rpm_limits_that_key_only(serve: Serve, wire: str) -> None:
    sim = await serve(keys={"key-a": {"rpm": 2}})
    assert await _statuses(sim, "key-a", 4, wire) == [200, 200, 429, 429]
    assert await _statuses(sim, "key-b", 3, wire) == [200, 200, 200]
    stats = sim.stats()
    assert stats.by_key == {"key-a": 4}  # only listed keys are named, never a caller's key
    assert stats.rate_limited_by_key == {"key-a": 2}
    assert stats.rate_limited_by_model == {}


async def test_key_and_model_limits_both_apply_and_a_refusal_uses_up_neither(
    serve: Serve,
) -> None:
    sim = await serve(rpm=3, keys={"key-a": {"rpm": 1}})
    assert await _statuses(sim, "key-a", 2) == [200, 429]
    # key-a's refused request did not count against the model: two more fit.
    assert await _statuses(sim, "key-b", 3) == [200, 200, 429]
    stats = sim.stats()
    assert stats.rate_limited_by_key == {"key-a": 1}
    assert stats.rate_limited_by_model == {"m": 1}


async def test_a_key_limited_reply_reports_the_key_headers(serve: Serve) -> None:
    sim = await serve(rpm=100, keys={"key-a": {"rpm": 2}})
    url, body, headers = _post(sim, "openai", "key-a")
    async with httpx.AsyncClient() as client:
        reply = await client.post(url, json=body, headers=headers)
    # The tighter of the two buckets is the one worth reporting.
    assert reply.headers["x-ratelimit-limit-requests"] == "2"
    assert reply.headers["x-ratelimit-remaining-requests"] == "1"


@pytest.mark.parametrize(
    ("wire", "status", "kind"),
    [
        ("openai", 429, "insufficient_quota"),
        ("anthropic", 400, "invalid_request_error"),
        ("google", 429, "RESOURCE_EXHAUSTED"),
        ("bedrock", 400, "ServiceQuotaExceededException"),
    ],
)
async def test_a_key_out_of_quota(serve: Serve, wire: str, status: int, kind: str) -> None:
    sim = await serve(keys={"spent": {"refuse": "quota"}})
    url, body, headers = _post(sim, wire, "spent")
    async with httpx.AsyncClient() as client:
        reply = await client.post(url, json=body, headers=headers)
        fine = await client.post(url, json=body, headers=_post(sim, wire, "other")[2])
    assert reply.status_code == status
    assert fine.status_code == 200
    error = reply.json().get("error", reply.json())
    if wire == "openai":
        assert error["type"] == error["code"] == kind
    elif wire == "anthropic":
        assert error["type"] == kind and "credit balance" in error["message"]
    elif wire == "google":
        assert error["status"] == kind
    else:
        assert reply.headers["x-amzn-errortype"] == kind
    assert "quota" in reply.text.lower() or "credit" in reply.text.lower()
    assert "retry-after" not in reply.headers  # waiting does not help a spent key
    assert sim.stats().out_of_quota == 1


@pytest.mark.parametrize("wire", ["openai", "anthropic", "google", "bedrock"])
async def test_an_invalid_key_is_refused_with_401(serve: Serve, wire: str) -> None:
    sim = await serve(keys={"revoked": {"refuse": "invalid"}})
    assert await _statuses(sim, "revoked", 1, wire) == [401]
    assert await _statuses(sim, "good", 1, wire) == [200]
    assert sim.stats().unauthorized == 1


async def test_a_short_window_scales_the_limit_and_frees_up_quickly(serve: Serve) -> None:
    # 120 rpm counted over 0.5 s: one request per half second.
    sim = await serve(rpm=120, rpm_window_s=0.5)
    url, body, _ = _post(sim, "openai", None)
    async with httpx.AsyncClient() as client:
        first = await client.post(url, json=body)
        refused = await client.post(url, json=body)
    assert (first.status_code, refused.status_code) == (200, 429)
    # The header announces the per-minute limit, as real providers do; the window is shorter.
    assert first.headers["x-ratelimit-limit-requests"] == "120"
    assert first.headers["x-ratelimit-remaining-requests"] == "0"
    assert 0 < int(refused.headers["retry-after-ms"]) <= 2000
    assert refused.headers["retry-after"] == "1"  # whole seconds, rounded up


def test_the_window_allows_at_least_one_request() -> None:
    from archon_async.simulate import KeySettings, SimulationSettings

    with pytest.raises(ValueError, match="rpm_window_s"):
        SimulationSettings(rpm=10, rpm_window_s=1.0)  # 10 rpm over 1 s is under one request
    with pytest.raises(ValueError, match="rpm_window_s"):
        SimulationSettings(keys={"k": KeySettings(rpm=10)}, rpm_window_s=1.0)
    assert SimulationSettings(rpm=60, rpm_window_s=1.0).rpm_window_s == 1.0


async def test_the_request_log_keeps_the_latest_requests(serve: Serve) -> None:
    sim = await serve(request_log=3, rpm=2, keys={"key-a": {}})
    url, body, _ = _post(sim, "openai", None)
    async with httpx.AsyncClient() as client:
        for key in ("key-a", "secret-of-someone", None, "key-a"):
            headers = {"authorization": f"Bearer {key}"} if key else {}
            await client.post(url, json=body, headers=headers)
        served = (await client.get(f"{sim.base_url}/requests")).json()
    log = sim.request_log()
    assert [entry.model_dump() for entry in log] == served
    assert [entry.key for entry in log] == ["unlisted", None, "key-a"]
    assert [entry.status for entry in log] == [200, 429, 429]
    assert [entry.model for entry in log] == ["m", "m", "m"]
    assert {entry.endpoint for entry in log} == {"openai.chat_completions"}
    assert log[0].retry_after_s is None
    assert log[1].retry_after_s is not None and log[1].retry_after_s > 0
    assert log[0].at_s <= log[1].at_s <= log[2].at_s
    assert "secret-of-someone" not in str(served)


async def test_the_request_log_is_off_by_default(serve: Serve) -> None:
    sim = await serve()
    await _statuses(sim, None, 2)
    assert sim.request_log() == []


class _Clock:
    """The simulator's clock (its module's ``time``), moved by the test: a burst is at one
    instant however slowly a loaded machine sends it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


async def test_a_token_bucket_refills_continuously(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 240 rpm in a bucket of 1 s worth: 4 requests at once, then one per 250 ms (times
    # exact in binary, so the refill is too).
    clock = _Clock()
    monkeypatch.setattr(_simulator, "time", clock)
    sim = await serve(rpm=240, rpm_window_s=1.0, rate_limiter="token_bucket")
    url, body, _ = _post(sim, "openai", None)
    async with httpx.AsyncClient() as client:
        burst = [await client.post(url, json=body) for _ in range(5)]
        clock.now += 0.125  # half a request refilled: not enough
        early = await client.post(url, json=body)
        clock.now += 0.125  # one whole request
        later = [await client.post(url, json=body) for _ in range(2)]
    assert [reply.status_code for reply in burst] == [200] * 4 + [429]
    assert [reply.headers["x-ratelimit-remaining-requests"] for reply in burst] == [
        "3", "2", "1", "0", "0"
    ]  # fmt: skip
    assert burst[-1].headers["retry-after-ms"] == "250"
    assert early.status_code == 429 and early.headers["retry-after-ms"] == "125"
    assert [reply.status_code for reply in later] == [200, 429]
