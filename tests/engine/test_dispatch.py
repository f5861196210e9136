"""The dispatcher: retries, key rotation, cooldowns, exhaustion, logs and cancellation."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

import anyio
import pytest
from structlog.testing import capture_logs

from archon_async import ProviderSettings, Registry
from archon_async._dispatch import Dispatcher
from archon_async._exceptions import (
    AuthenticationError,
    BadRequestError,
    ConfigError,
    KeyPoolExhaustedError,
    MalformedResponseError,
    ProviderServerError,
    ProviderTimeoutError,
    RateLimitError,
)
from archon_async._keys import fingerprint
from archon_async.core import ChatRequest, ChatResponse, Usage
from tests.providers.helpers import MESSAGES, FakeClock

K1, K2 = "sk-one-SECRET-aaaa", "sk-two-SECRET-bbbb"
Outcome = str | Exception


@dataclass
class ScriptedProvider:
    """Plays a script of outcomes (reply text or exception), one per send."""

    script: list[Outcome]
    keys_used: list[str | None] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    async def send(self, request: ChatRequest, *, api_key: str | None) -> ChatResponse:
        self.keys_used.append(api_key)
        outcome = self.script.pop(0) if self.script else "ok"
        if isinstance(outcome, Exception):
            raise outcome
        return ChatResponse(text=outcome, usage=Usage(10, 5), headers=self.headers)

    async def aclose(self) -> None:
        pass


def rate_limited(retry_after: float | None = None, body: str = "") -> RateLimitError:
    return RateLimitError("slow down", status_code=429, retry_after=retry_after, body=body)


def server_error() -> ProviderServerError:
    return ProviderServerError("oops", status_code=503)


def refused() -> AuthenticationError:
    return AuthenticationError("refused", status_code=401)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def dispatcher(
    provider: ScriptedProvider,
    clock: FakeClock,
    keys: list[str] | None = None,
    **settings: object,
) -> Dispatcher:
    registry = Registry().add_provider("Fake_API", lambda name, s: provider)
    return Dispatcher(
        registry,
        settings={"Fake_API": ProviderSettings(**settings)},  # type: ignore[arg-type]
        keys={"FAKE_API_KEY": keys or []},
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(0),
        environ={},
        dotenv_path=None,
    )


def request(model_type: str = "Fake_API") -> ChatRequest:
    return ChatRequest(model="m", model_type=model_type, messages=MESSAGES, max_tokens=16)


async def test_success_record(clock: FakeClock) -> None:
    provider = ScriptedProvider(["hello"])
    response, record = await dispatcher(provider, clock, [K1]).complete(request())
    assert response.text == "hello"
    assert (record.retries, record.key_id, record.input_tokens, record.output_tokens) == (
        0,
        fingerprint(K1),
        10,
        5,
    )
    assert provider.keys_used == [K1] and clock.sleeps == []


async def test_retries_then_success_with_backoff(clock: FakeClock) -> None:
    script: list[Outcome] = [server_error(), ProviderTimeoutError("t"), MalformedResponseError("m")]
    provider = ScriptedProvider([*script, "fine"])
    response, record = await dispatcher(provider, clock).complete(request())
    assert response.text == "fine" and record.retries == 3
    assert len(clock.sleeps) == 3
    for retry, delay in enumerate(clock.sleeps, start=1):
        backoff = 0.5 * 2 ** (retry - 1)
        assert 0.75 * backoff <= delay <= backoff


async def test_retries_exhausted_raise_the_last_error(clock: FakeClock) -> None:
    provider = ScriptedProvider([server_error() for _ in range(5)])
    with pytest.raises(ProviderServerError):
        await dispatcher(provider, clock, max_retries=2).complete(request())
    assert len(provider.keys_used) == 3


@pytest.mark.parametrize(
    "error",
    [BadRequestError("bad", status_code=400), BadRequestError("no", status_code=404)],
)
async def test_unrecoverable_errors_fail_at_once(clock: FakeClock, error: Exception) -> None:
    provider = ScriptedProvider([error, "never"])
    with pytest.raises(type(error)):
        await dispatcher(provider, clock, [K1]).complete(request())
    assert len(provider.keys_used) == 1 and clock.sleeps == []


async def test_config_error_is_not_retried(clock: FakeClock) -> None:
    provider = ScriptedProvider([ConfigError("no base url"), "never"])
    with pytest.raises(ConfigError):
        await dispatcher(provider, clock).complete(request())
    assert len(provider.keys_used) == 1


async def test_refused_key_is_dropped_and_the_next_serves(clock: FakeClock) -> None:
    provider = ScriptedProvider([refused(), "ok", "ok"])
    calls = dispatcher(provider, clock, [K1, K2])
    _, record = await calls.complete(request())
    await calls.complete(request())
    assert provider.keys_used == [K1, K2, K2]
    assert record.retries == 1 and record.key_id == fingerprint(K2)
    assert calls.statistics()["Fake_API"].keys.disabled == 1


async def test_key_rotation_on_429(clock: FakeClock) -> None:
    provider = ScriptedProvider([rate_limited(retry_after=20.0), "ok"])
    calls = dispatcher(provider, clock, [K1, K2])
    _, record = await calls.complete(request())
    assert provider.keys_used == [K1, K2] and clock.sleeps == []  # rotated without waiting
    assert record.key_id == fingerprint(K2)
    stats = calls.statistics()["Fake_API"]
    assert stats.keys.cooling == 1 and stats.limits.paused == 1


async def test_all_keys_cooling_waits_for_the_earliest(clock: FakeClock) -> None:
    provider = ScriptedProvider([rate_limited(3.0), rate_limited(7.0), "ok"])
    _, record = await dispatcher(provider, clock, [K1, K2]).complete(request())
    assert provider.keys_used == [K1, K2, K1] and record.retries == 2
    # At least the earliest cooldown, and at most a quarter more (the spread of waiters).
    assert 3.0 <= sum(clock.sleeps) <= 3.75


async def test_429_without_keys_honours_retry_after(clock: FakeClock) -> None:
    provider = ScriptedProvider([rate_limited(2.5), "ok"])
    calls = dispatcher(provider, clock)
    await calls.complete(request())
    assert 2.5 <= sum(clock.sleeps) <= 2.5 * 1.25


async def test_429s_that_say_when_to_come_back_do_not_use_up_the_retries(
    clock: FakeClock,
) -> None:
    # Ten 429s with Retry-After, then an answer: more than max_retries (4), still answered,
    # since each was the provider's queue telling the call when its turn comes.
    provider = ScriptedProvider([*(rate_limited(1.0) for _ in range(10)), "ok"])
    response, record = await dispatcher(provider, clock, [K1]).complete(request())
    assert response.text == "ok" and record.retries == 10
    # A server that never lets the call through: bounded all the same (16 told waits plus
    # the 4 retries of the policy, then the call fails).
    endless = ScriptedProvider([rate_limited(1.0) for _ in range(100)])
    with pytest.raises(RateLimitError):
        await dispatcher(endless, clock, [K1]).complete(request())
    assert len(endless.keys_used) == 16 + 4 + 1


async def test_429s_without_advice_still_use_up_the_retries(clock: FakeClock) -> None:
    provider = ScriptedProvider([rate_limited() for _ in range(100)])
    with pytest.raises(RateLimitError):
        await dispatcher(provider, clock, [K1]).complete(request())
    assert len(provider.keys_used) == 4 + 1


async def test_waiters_told_the_same_cooldown_come_back_spread_out(clock: FakeClock) -> None:
    provider = ScriptedProvider([rate_limited(2.0) for _ in range(8)])
    calls = dispatcher(provider, clock, [K1])
    await asyncio.gather(*(calls.complete(request()) for _ in range(8)))
    waits = clock.sleeps
    assert len(waits) >= 8
    assert all(wait <= 2.0 * 1.25 for wait in waits)
    assert len({round(wait, 6) for wait in waits}) > 1  # not one instant for all


async def test_429_asking_for_too_long_a_wait_fails(clock: FakeClock) -> None:
    provider = ScriptedProvider([rate_limited(3600.0), "never"])
    with pytest.raises(RateLimitError):
        await dispatcher(provider, clock, [K1]).complete(request())
    assert len(provider.keys_used) == 1


async def test_out_of_quota_keys_exhaust_the_pool(clock: FakeClock) -> None:
    quota = '{"error": {"code": "insufficient_quota"}}'
    provider = ScriptedProvider([rate_limited(body=quota), rate_limited(body=quota)])
    calls = dispatcher(provider, clock, [K1, K2])
    with pytest.raises(KeyPoolExhaustedError, match="exhausted"):
        await calls.complete(request())  # the call that spends the last key says so
    with pytest.raises(KeyPoolExhaustedError) as caught:
        await calls.complete(request())
    assert "FAKE_API_KEY" in str(caught.value)
    assert K1 not in str(caught.value) and K2 not in repr(caught.value)


async def test_hosted_provider_without_key_says_which_variable(clock: FakeClock) -> None:
    registry = Registry().add_provider("OpenAI_API", lambda name, s: ScriptedProvider([]))
    calls = Dispatcher(registry, keys=None, environ={}, dotenv_path=None, sleep=clock.sleep)
    with pytest.raises(KeyPoolExhaustedError, match="OPENAI_API_KEY"):
        await calls.complete(request("OpenAI_API"))


async def test_exhausted_bucket_pauses_the_key_until_reset(clock: FakeClock) -> None:
    provider = ScriptedProvider(["a", "b"])
    provider.headers = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "4s"}
    calls = dispatcher(provider, clock, [K1])
    await calls.complete(request())
    await calls.complete(request())
    assert clock.sleeps == [pytest.approx(4.0)]


async def test_logs_one_line_per_attempt_without_secrets(clock: FakeClock) -> None:
    provider = ScriptedProvider([refused(), rate_limited(1.0), "ok"])
    with capture_logs() as logs:
        await dispatcher(provider, clock, [K1, K2]).complete(request())
    calls = [entry for entry in logs if entry["event"] == "provider_call"]
    assert [entry["status"] for entry in calls] == [401, 429, "ok"]
    assert [entry["attempt"] for entry in calls] == [1, 2, 3]
    assert calls[-1]["tokens"] == 15 and calls[-1]["key_id"] == fingerprint(K2)
    for entry in calls:
        assert {"model", "provider", "latency_ms", "key_id"} <= entry.keys()
    assert K1 not in repr(logs) and K2 not in repr(logs)


async def test_cancellation_mid_call_leaves_nothing_running(clock: FakeClock) -> None:
    started = anyio.Event()
    cancelled: list[bool] = []

    class Hanging(ScriptedProvider):
        async def send(self, request: ChatRequest, *, api_key: str | None) -> ChatResponse:
            started.set()
            try:
                await anyio.sleep_forever()
            except anyio.get_cancelled_exc_class():
                cancelled.append(True)
                raise
            raise AssertionError("unreachable")

    calls = dispatcher(Hanging([]), clock, [K1], max_concurrency=1)
    async with anyio.create_task_group() as group:
        group.start_soon(calls.complete, request())
        await started.wait()
        assert calls.statistics()["Fake_API"].limits.in_flight == 1
        group.cancel_scope.cancel()
    assert cancelled == [True]
    assert calls.statistics()["Fake_API"].limits.in_flight == 0
    await calls.aclose()


def _secret_free(values: Iterator[str]) -> bool:
    return all(K1 not in value and K2 not in value for value in values)


async def test_reprs_hold_no_secrets(clock: FakeClock) -> None:
    calls = dispatcher(ScriptedProvider(["ok"]), clock, [K1, K2])
    await calls.complete(request())
    assert _secret_free(iter([repr(calls), repr(calls.statistics())]))
