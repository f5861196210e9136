"""Provider limits: rpm/tpm buckets per key, the in-flight cap, pauses and slow-downs."""

from __future__ import annotations

import asyncio
import math

import anyio
import anyio.lowlevel
import pytest

from archon_async import ProviderSettings
from archon_async._limits import ProviderLimits, estimate_tokens
from archon_async.core import ChatRequest
from tests.providers.helpers import FakeClock


def limits(clock: FakeClock | None = None, **settings: float) -> ProviderLimits:
    clock = clock or FakeClock()
    run_loop_on(clock)
    validated = ProviderSettings.model_validate(settings)
    return ProviderLimits("Fake_API", validated, clock=clock, sleep=clock.sleep)


def run_loop_on(clock: FakeClock) -> None:
    """Make ``clock`` the running loop's clock for the rest of the test (its own loop).

    The rpm buckets are aiolimiter's, which read ``loop.time()``, not the injected clock:
    on the real one, a loaded machine lets tenths of a second pass while the tasks of
    `count_admitted` start or between two counts, and each tenth drains a 600 rpm bucket
    by one request (seen at load averages of 13-23: 2 admitted where 1 is right). On the
    fake clock, time moves only when a test sleeps on it, for every bucket alike.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return  # a test without a loop
    # Not before the loop's own time (what it scheduled stays due), and whole seconds:
    # tenths added to it and taken off again give tenths exactly.
    clock.now = float(math.ceil(loop.time()))
    loop.time = clock  # type: ignore[method-assign]


async def settle() -> None:
    for _ in range(20):
        await anyio.lowlevel.checkpoint()


async def count_admitted(target: ProviderLimits, tasks: int, key: str | None, tokens: int) -> int:
    """Start ``tasks`` acquisitions at once; how many pass before time moves."""
    admitted = 0

    async def one() -> None:
        nonlocal admitted
        await target.acquire(key, tokens)
        admitted += 1

    async with anyio.create_task_group() as group:
        for _ in range(tasks):
            group.start_soon(one)
        await settle()
        group.cancel_scope.cancel()  # the rest would wait for the bucket to drain
    return admitted


async def test_rpm_bucket_holds_the_rate() -> None:
    # 600 rpm, filled at 98% with a one-second burst (9.8 requests): 9 now, the rest later.
    target = limits(rpm=600)
    assert await count_admitted(target, 15, "key-a", 1) == 9


async def test_each_key_has_its_own_buckets() -> None:
    target = limits(key_rpm=600)
    assert await count_admitted(target, 12, "key-a", 1) == 9
    assert await count_admitted(target, 12, "key-b", 1) == 9
    assert target.statistics().keys == 2


async def test_rpm_is_for_the_whole_provider_whatever_the_keys() -> None:
    target = limits(rpm=600)
    assert await count_admitted(target, 12, "key-a", 1) == 9
    assert await count_admitted(target, 12, "key-b", 1) == 0  # the provider's burst is spent


async def test_provider_and_key_rpm_both_hold() -> None:
    target = limits(rpm=600, key_rpm=300)  # bursts of 9.8 per provider, 4.9 per key
    assert await count_admitted(target, 12, "key-a", 1) == 4
    assert await count_admitted(target, 12, "key-b", 1) == 4
    assert await count_admitted(target, 12, "key-c", 1) == 1
    stats = target.statistics()
    assert (stats.rpm, stats.key_rpm) == (600, 300)


async def test_tpm_is_for_the_whole_provider_whatever_the_keys() -> None:
    clock = FakeClock()
    target = limits(clock, tpm=60_000)  # a one-second burst of 980 tokens
    await target.acquire("key-a", 900)
    assert clock.sleeps == []
    await target.acquire("key-b", 900)  # the provider's bucket is nearly full: wait
    assert sum(clock.sleeps) == pytest.approx((900 + 900 - 980) / 980)


async def test_tpm_bucket_counts_tokens() -> None:
    clock = FakeClock()
    target = limits(clock, tpm=60_000)  # a one-second burst of 980 tokens
    for _ in range(3):
        await target.acquire(None, 300)
    assert clock.sleeps == []
    await target.acquire(None, 300)  # 1200 > 980: wait for 220 tokens to drain
    assert clock.sleeps == [pytest.approx(220 / 980)]


async def test_a_request_bigger_than_the_burst_goes_now_and_the_next_ones_pay_for_it() -> None:
    clock = FakeClock()
    target = limits(clock, tpm=60_000)
    await target.acquire(None, 50_000)  # far over the burst: not an error, and no wait
    assert clock.sleeps == []
    await target.acquire(None, 10)
    assert sum(clock.sleeps) == pytest.approx((50_000 + 10 - 980) / 980)


async def test_tpm_holds_over_time_for_requests_bigger_than_the_burst() -> None:
    # The case: tpm=6000 (a burst of 98 tokens) and ~1100-token requests.
    clock = FakeClock()
    target = limits(clock, tpm=6000)
    started = clock.now
    requests, cost = 12, 1100
    for _ in range(requests):
        await target.acquire("key-a", cost)
    minutes = (clock.now - started) / 60.0
    # Every request but the last has been paid for at no more than tpm.
    assert (requests - 1) * cost <= 6000 * minutes
    assert (requests - 1) * cost >= 0.97 * 6000 * minutes  # and not much slower


async def test_a_cancelled_wait_for_tokens_takes_nothing() -> None:
    clock = FakeClock()
    target = limits(clock, tpm=60_000)
    await target.acquire(None, 980)
    with anyio.move_on_after(0):
        await target.acquire(None, 980)
    before = len(clock.sleeps)  # the cancelled wait let the clock run a second
    await target.acquire(None, 1)
    assert clock.sleeps[before:] == []  # so the bucket has drained: nothing was taken


async def test_after_429_without_advice_a_key_slows_down_then_recovers() -> None:
    target = limits(rpm=600)
    target.rate_limited("key-a", None)
    assert target.statistics().slowed == 1
    assert await count_admitted(target, 10, "key-a", 1) == 4  # each request costs 2 units
    for _ in range(20):
        target.succeeded("key-a")
    assert target.statistics().slowed == 0


async def test_pause_holds_requests_until_the_reset() -> None:
    clock = FakeClock()
    target = limits(clock)
    target.rate_limited("key-a", 3.0)
    assert target.statistics().paused == 1
    await target.acquire("key-a", 10)
    await target.acquire("key-b", 10)  # other keys are not held
    assert clock.sleeps == [3.0]
    assert target.statistics().paused == 0


async def test_the_gate_caps_calls_in_flight() -> None:
    target = limits(max_concurrency=2)
    release = anyio.Event()
    peak = 0

    async def hold() -> None:
        nonlocal peak
        await target.gate.acquire(0)
        try:
            peak = max(peak, target.statistics().in_flight)
            await release.wait()
        finally:
            target.gate.release()

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(hold)
        await settle()
        stats = target.statistics()
        assert (stats.in_flight, stats.waiting) == (2, 3)
        release.set()
    assert peak == 2 and target.statistics().in_flight == 0


def test_estimate_tokens() -> None:
    request = ChatRequest(
        model="m", model_type="x", messages=[{"role": "user", "content": "x" * 400}], max_tokens=50
    )
    assert estimate_tokens(request) == 150


def test_repr_is_informative() -> None:
    max_concurrency = ProviderSettings().max_concurrency
    assert f"in_flight=0/{max_concurrency}" in repr(limits())


@pytest.mark.parametrize("rpm", [0.5, 6.0])
async def test_tiny_rates_still_admit_one_request(rpm: float) -> None:
    assert await count_admitted(limits(rpm=rpm), 3, None, 1) == 1


async def test_a_key_paces_itself_at_the_limit_its_replies_announce() -> None:
    target = limits()
    assert await count_admitted(target, 15, "key-a", 1) == 15  # nothing known: no pacing
    target.learn("key-a", {"x-ratelimit-limit-requests": "600", "x-ratelimit-limit-tokens": "x"})
    # 600 rpm at 98% with a one-second burst: 9 now, as if it had been configured per key.
    assert await count_admitted(target, 15, "key-a", 1) == 9
    assert await count_admitted(target, 15, "key-b", 1) == 15  # another key learns its own
    assert target.statistics().learned == 1
    assert not target.counts_tokens  # "x" is no limit


async def test_announced_token_limits_make_tokens_count() -> None:
    clock = FakeClock()
    target = limits(clock)
    target.learn("key-a", {"anthropic-ratelimit-tokens-limit": "6000"})
    assert target.counts_tokens
    # 6000 tpm at 98%: a one-second burst of 98 tokens, one 60-token request goes at once.
    await target.acquire("key-a", 60)
    assert clock.sleeps == []
    await target.acquire("key-a", 60)  # 120 > 98: wait for 22 tokens to drain
    assert clock.sleeps == [pytest.approx(22 / 98)]


async def test_a_reply_announcing_no_limit_teaches_nothing() -> None:
    target = limits()
    target.learn("key-a", {"x-request-id": "req_1", "x-ratelimit-remaining-requests": "5"})
    assert await count_admitted(target, 15, "key-a", 1) == 15
    assert target.statistics().learned == 0
    assert not target.counts_tokens


async def test_a_configured_rate_wins_over_an_announced_one() -> None:
    target = limits(rpm=1200)
    target.learn("key-a", {"x-ratelimit-limit-requests": "60"})
    assert await count_admitted(target, 30, "key-a", 1) == 19  # 1200 rpm's burst, not 60's
    assert target.statistics().learned == 0


async def test_a_429_storm_on_an_unpaced_key_adapts_its_rate_aimd() -> None:
    clock = FakeClock()
    target = limits(clock)
    # Nothing paces the key: it sends 600 requests a minute (one every 0.1 s) ...
    # (the times are computed, not summed: 0.1 added 60 times is 6.0000000000000014 s,
    # which makes it 599.99... rpm, a burst of 9.99... units and one request less).
    started = clock.now
    for sent in range(1, 61):
        await target.acquire("key-a", 0)
        clock.now = started + sent / 10
    assert target.statistics().slowed == 0
    # ... until 429s that say nothing: it adopts that rate, halved.
    target.rate_limited("key-a", None)
    stats = target.statistics()
    assert stats.slowed == 1
    # A one-second burst of 600 rpm is 10 units, at 2 units a request while halved.
    assert await count_admitted(target, 50, "key-a", 0) == 5
    target.rate_limited("key-a", None)  # a second 429: halved again
    for _ in range(30):  # additive increase: 0.05 of the rate back per success
        target.succeeded("key-a")
    assert target.statistics().slowed == 0


async def test_a_request_nothing_paces_passes_at_once_counted_as_acquire_counts_it() -> None:
    clock = FakeClock()
    target = limits(clock)
    assert not target.acquire_nowait("key-a")  # nothing acquired yet: acquire sets up
    await target.acquire("key-a", 0)
    started = clock.now
    for sent in range(1, 61):  # 600 a minute, each passing at once and counted
        assert target.acquire_nowait("key-a")
        clock.now = started + sent / 10
    target.rate_limited("key-a", None)  # adopts the rate it was sent at, halved
    assert target.statistics().slowed == 1
    assert not target.acquire_nowait("key-a")  # paced now: callers wait in acquire
    assert await count_admitted(target, 50, "key-a", 0) == 5


async def test_a_paused_or_paced_key_never_passes_at_once() -> None:
    clock = FakeClock()
    target = limits(clock)
    await target.acquire("key-a", 0)
    target.rate_limited("key-a", 3.0)
    assert not target.acquire_nowait("key-a")
    assert target.acquire_nowait("key-b")  # other keys are not held
    clock.now += 3.0
    assert target.acquire_nowait("key-a")
    for paced in (limits(clock, rpm=600), limits(clock, key_tpm=1000)):
        await paced.acquire("key-a", 1)
        assert not paced.acquire_nowait("key-a")
