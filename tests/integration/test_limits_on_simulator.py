"""Rate limits and key pools, driven end to end: our engine and adapters on the simulator.

Each test makes the simulator enforce a limit (short windows keep them to a few seconds)
and reads what reached it from its request log, so the assertions are about the requests
the server saw, not about how long things took on this machine. The simulator shares the
test's event loop: on a loaded machine it reads requests late and in bunches, so each
limit leaves the engine's pacing seconds of slack (see `_RPM`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from archon_async import KeyPoolExhaustedError, ProviderError
from archon_async._keys import fingerprint
from archon_async.simulate import KeySettings, SimulatedServer, SimulationSettings
from tests.integration.helpers import engine_on, only_leaf

# Much more than any test here needs; a test that waits this long has hung on a cooldown.
_HUNG_S = 30.0

# The paced tests: 600 rpm, as a server's token bucket of 3 s worth (30 requests) refilled
# at 10 a second, and 36 calls. Sent at once, 6 would be refused. Paced by the engine (a
# one-second burst at 98%: 9.8 requests, then 9.8 a second), they reach the server over
# ~2.7 s and 20 of its 30 tokens are never needed: the server may read them up to 2 s
# late and bunched (a starved loop: 1.5 s of slack, at 1200 rpm, drew 429s at load 13)
# before one is refused. A lower rate also keeps this process's CPU per second small.
_RPM, _WINDOW_S, _BUCKET, _CALLS = 600, 3.0, 30, 36


async def _spend(server: SimulatedServer, key: str | None = None) -> None:
    """One request of model "m" outside the engine, to use up a limit beforehand."""
    headers = {"authorization": f"Bearer {key}"} if key else {}
    body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "first"}]}
    async with httpx.AsyncClient() as client:
        reply = await client.post(
            f"{server.openai_base_url}/chat/completions", json=body, headers=headers
        )
    assert reply.status_code == 200, reply.text


def _paced_settings() -> SimulationSettings:
    return SimulationSettings(
        rpm=_RPM,
        rpm_window_s=_WINDOW_S,
        rate_limiter="token_bucket",
        request_log=1000,
    )


async def test_told_the_servers_rpm_the_engine_holds_it_without_429s() -> None:
    rpm, bucket, calls = _RPM, _BUCKET, _CALLS
    settings = _paced_settings()
    async with SimulatedServer(settings) as server:
        async with engine_on(server, ["sk-a"], rpm=rpm) as engine:
            async with asyncio.timeout(_HUNG_S):
                results = await asyncio.gather(*(engine.generate(f"q{i}") for i in range(calls)))
        stats, log = server.stats(), server.request_log()
    assert all(result.text for result in results)
    assert stats.replies == calls
    assert stats.rate_limited == 0  # the limit was reached (calls > bucket) and held
    # The engine spread the calls at the limit's pace, not faster.
    assert calls > bucket
    assert log[-1].at_s - log[0].at_s >= (calls - bucket) / (rpm / 60) * 0.9


async def test_told_nothing_the_engine_paces_itself_at_the_announced_limit() -> None:
    # As above, but the engine learns the limit from the first reply's headers.
    bucket, calls = _BUCKET, _CALLS
    settings = _paced_settings()
    async with SimulatedServer(settings) as server:
        async with engine_on(server, ["sk-a"]) as engine:
            async with asyncio.timeout(_HUNG_S):
                await engine.generate("first")  # its reply announces 1200 rpm
                results = await asyncio.gather(*(engine.generate(f"q{i}") for i in range(calls)))
            learned = engine.dispatcher.statistics()["OpenAI_API"].limits.learned
        stats = server.stats()
    assert learned == 1
    assert all(result.text for result in results)
    assert stats.replies == calls + 1
    assert stats.rate_limited == 0  # without pacing, 6 of the 36 would have been refused
    assert calls + 1 > bucket


async def test_a_429_retry_after_is_waited_out_before_the_next_attempt() -> None:
    # One request per 2 s, and the engine is told nothing about it. The window is used up
    # just before the engine's call, which must land in it to be refused: 2 s leave room
    # for a loaded machine (0.5 s, with the engine opened in between, did not at load 13).
    settings = SimulationSettings(rpm=30, rpm_window_s=2.0, request_log=10)
    async with SimulatedServer(settings) as server:
        async with engine_on(server, ["sk-a"]) as engine:
            await _spend(server)
            async with asyncio.timeout(_HUNG_S):
                result = await engine.generate("q")
        log = server.request_log()
    assert result.text
    assert [entry.status for entry in log] == [200, 429, 200], "the call came after the window"
    refused, retried = log[1], log[2]
    assert refused.retry_after_s is not None and refused.retry_after_s > 0
    assert retried.at_s - refused.at_s >= refused.retry_after_s
    assert result.trace.layers[0].components[0].calls[0].retries == 1


async def test_a_rate_limited_key_rotates_to_the_next_one() -> None:
    settings = SimulationSettings(
        keys={"key-a": KeySettings(rpm=1), "key-b": KeySettings()}, request_log=10
    )
    async with SimulatedServer(settings) as server:
        await _spend(server, "key-a")  # key-a is now limited for a minute
        async with engine_on(server, ["key-a", "key-b"]) as engine:
            async with asyncio.timeout(_HUNG_S):
                result = await engine.generate("q")
        stats, log = server.stats(), server.request_log()
    assert result.text
    assert [(entry.key, entry.status) for entry in log] == [
        ("key-a", 200),
        ("key-a", 429),
        ("key-b", 200),
    ]
    assert stats.rate_limited_by_key == {"key-a": 1}
    (call,) = result.trace.layers[0].components[0].calls
    assert call.key_id == fingerprint("key-b")


async def test_a_key_with_no_requests_left_is_skipped_while_another_is_ready() -> None:
    settings = SimulationSettings(
        keys={"key-a": KeySettings(rpm=1), "key-b": KeySettings()}, request_log=10
    )
    async with SimulatedServer(settings) as server:
        async with engine_on(server, ["key-a", "key-b"]) as engine:
            async with asyncio.timeout(_HUNG_S):
                for index in range(4):
                    await engine.generate(f"q{index}")
        stats = server.stats()
    assert stats.replies == 4
    assert stats.rate_limited == 0


async def test_all_keys_refused_or_out_of_quota_is_an_exhausted_pool() -> None:
    settings = SimulationSettings(
        keys={"key-a": KeySettings(refuse="quota"), "key-b": KeySettings(refuse="invalid")},
        request_log=10,
    )
    async with SimulatedServer(settings) as server:
        async with engine_on(server, ["key-a", "key-b"]) as engine:
            async with asyncio.timeout(_HUNG_S):
                with pytest.raises(ExceptionGroup) as caught:
                    await engine.generate("q")
        stats, log = server.stats(), server.request_log()
    error = only_leaf(caught.value)
    # The dispatcher raises KeyPoolExhaustedError from the call that disables the last key;
    # before that change it re-raised that call's own error, which still names the keys.
    assert isinstance(error, KeyPoolExhaustedError) or (
        isinstance(error, ProviderError) and "key" in str(error).lower()
    ), repr(error)
    assert "OPENAI_API_KEY" in str(error)
    assert "key-a" not in str(error) and "key-b" not in str(error)  # never the keys
    # Each key was tried once: neither a spent nor a refused key is worth another attempt.
    assert [(entry.key, entry.status) for entry in log] == [("key-a", 429), ("key-b", 401)]
    assert (stats.out_of_quota, stats.unauthorized) == (1, 1)
