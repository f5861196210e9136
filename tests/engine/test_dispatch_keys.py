"""The dispatcher with several keys: rotation budget, exhaustion, failed-call records, logs."""

from __future__ import annotations

import dataclasses

import pytest
from structlog.testing import capture_logs

from archon_async._exceptions import (
    BadRequestError,
    KeyPoolExhaustedError,
    ProviderServerError,
    RateLimitError,
)
from archon_async._keys import fingerprint
from tests.engine.test_dispatch import (
    K1,
    K2,
    Outcome,
    ScriptedProvider,
    dispatcher,
    rate_limited,
    refused,
    request,
)
from tests.providers.helpers import FakeClock

FIVE = [f"sk-org-key-{n}-SECRET" for n in range(5)]
CREDIT = (
    '{"type": "error", "error": {"type": "invalid_request_error", "message": '
    '"Your credit balance is too low to access the Anthropic API."}}'
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_rotating_through_keys_of_one_org_limit_does_not_burn_the_retries(
    clock: FakeClock,
) -> None:
    # Five keys behind one org-wide limit: every key says 429 once, then the limit clears.
    script: list[Outcome] = [rate_limited() for _ in range(6)]
    provider = ScriptedProvider([*script, "ok"])
    response, record = await dispatcher(provider, clock, FIVE).complete(request())
    assert response.text == "ok" and record.retries == 6
    assert provider.keys_used[:5] == FIVE  # rotated through every key first
    assert sum(clock.sleeps) > 0  # then waited for a key instead of failing at once


async def test_endless_429s_on_many_keys_stay_bounded(clock: FakeClock) -> None:
    provider = ScriptedProvider([rate_limited() for _ in range(100)])
    with pytest.raises(RateLimitError):
        await dispatcher(provider, clock, FIVE, max_retries=2).complete(request())
    # At most one round over the keys per retry allowed, and waits between the rounds.
    assert 5 < len(provider.keys_used) <= 5 * 3
    assert len(clock.sleeps) >= 2


async def test_the_call_that_spends_the_last_key_says_the_pool_is_exhausted(
    clock: FakeClock,
) -> None:
    quota = '{"error": {"code": "insufficient_quota", "message": "You exceeded your quota"}}'
    provider = ScriptedProvider([rate_limited(body=quota), rate_limited(body=quota), "never"])
    calls = dispatcher(provider, clock, [K1, K2])
    with pytest.raises(KeyPoolExhaustedError) as caught:
        await calls.complete(request())
    assert isinstance(caught.value.__cause__, RateLimitError)
    message = str(caught.value)
    assert "exhausted" in message and "FAKE_API_KEY" in message and "keys=" in message
    assert K1 not in message and K2 not in message
    assert len(provider.keys_used) == 2 and clock.sleeps == []
    assert calls.statistics()["Fake_API"].keys.disabled == 2


async def test_a_refused_last_key_is_an_exhausted_pool_caused_by_the_refusal(
    clock: FakeClock,
) -> None:
    provider = ScriptedProvider([refused(), "never"])
    with pytest.raises(KeyPoolExhaustedError) as caught:
        await dispatcher(provider, clock, [K1]).complete(request())
    assert caught.value.__cause__ is not None and "401" in str(caught.value.__cause__)
    assert len(provider.keys_used) == 1


async def test_a_credit_balance_too_low_400_moves_on_to_the_next_key(clock: FakeClock) -> None:
    low = BadRequestError("credit", status_code=400, body=CREDIT)
    provider = ScriptedProvider([low, "ok"])
    calls = dispatcher(provider, clock, [K1, K2])
    response, _ = await calls.complete(request())
    assert response.text == "ok" and provider.keys_used == [K1, K2]
    assert calls.statistics()["Fake_API"].keys.disabled == 1


async def test_payment_required_counts_as_out_of_quota(clock: FakeClock) -> None:
    unpaid = BadRequestError("pay", status_code=402, body='{"error": "Payment Required"}')
    provider = ScriptedProvider([unpaid, "ok"])
    calls = dispatcher(provider, clock, [K1, K2])
    await calls.complete(request())
    assert provider.keys_used == [K1, K2]


async def test_a_403_without_a_key_problem_keeps_the_key_and_fails_at_once(
    clock: FakeClock,
) -> None:
    denied = BadRequestError("Project does not have access to model m", status_code=403, body="{}")
    provider = ScriptedProvider([denied, "ok"])
    calls = dispatcher(provider, clock, [K1, K2])
    with pytest.raises(BadRequestError, match="does not have access"):
        await calls.complete(request())
    assert len(provider.keys_used) == 1
    assert calls.statistics()["Fake_API"].keys.disabled == 0
    await calls.complete(request())  # both keys still serve


async def test_a_failed_call_carries_its_record(clock: FakeClock) -> None:
    provider = ScriptedProvider([ProviderServerError("down", status_code=503) for _ in range(3)])
    with pytest.raises(ProviderServerError) as caught:
        await dispatcher(provider, clock, [K1], max_retries=2).complete(request())
    record = caught.value.call_record
    assert record is not None
    assert (record.retries, record.key_id, record.model) == (2, fingerprint(K1), "m")
    assert record.error is not None and "503" in record.error and "down" in record.error
    assert record.latency_s >= 0.0 and (record.input_tokens, record.output_tokens) == (0, 0)


async def test_an_exhausted_pool_error_carries_the_record_of_the_attempts(
    clock: FakeClock,
) -> None:
    provider = ScriptedProvider([refused(), refused()])
    with pytest.raises(KeyPoolExhaustedError) as caught:
        await dispatcher(provider, clock, [K1, K2]).complete(request())
    record = caught.value.call_record
    assert record is not None and record.retries == 1 and record.error


async def test_the_log_says_the_call_waits_for_a_cooling_key(clock: FakeClock) -> None:
    provider = ScriptedProvider([rate_limited(3.0), rate_limited(7.0), "ok"])
    with capture_logs() as logs:
        await dispatcher(provider, clock, [K1, K2]).complete(request())
    failed = [entry for entry in logs if entry["event"] == "provider_call" and "next" in entry]
    assert [entry["next"] for entry in failed] == ["rotate_key", "wait_for_key"]
    assert failed[0]["retry_in_s"] == 0.0
    # The wait said is the wait made: the cooldown, plus up to a quarter of it as spread.
    assert 3.0 <= failed[1]["retry_in_s"] <= 3.75
    assert sum(clock.sleeps) == pytest.approx(failed[1]["retry_in_s"], abs=1e-3)


async def test_the_log_says_when_the_call_gives_up(clock: FakeClock) -> None:
    provider = ScriptedProvider([BadRequestError("bad", status_code=400)])
    with capture_logs() as logs, pytest.raises(BadRequestError):
        await dispatcher(provider, clock, [K1]).complete(request())
    (entry,) = [entry for entry in logs if entry["event"] == "provider_call"]
    assert entry["next"] == "give_up" and entry["retry_in_s"] is None
    assert entry["log_level"] == "warning"


def refused_n(message: str) -> BadRequestError:
    return BadRequestError(message, status_code=400)


@pytest.mark.parametrize(
    ("message", "fallback"),
    [
        ("'n' : number must be at most 1", "separate_requests"),
        ("invalid request: n is not supported", "separate_requests"),
        ("'n' : number must be at most 3", "smaller_requests"),
    ],
)
async def test_a_refusal_of_n_is_logged_as_the_fallback_the_call_path_takes(
    clock: FakeClock, message: str, fallback: str
) -> None:
    # The call path draws the samples again (one a request, or as many as the refusal
    # allows): an expected fallback, so INFO with what comes next, not WARNING give_up.
    provider = ScriptedProvider([refused_n(message)])
    asking = dataclasses.replace(request(), n=5)
    with capture_logs() as logs, pytest.raises(BadRequestError):
        await dispatcher(provider, clock, [K1]).complete(asking)
    (entry,) = [entry for entry in logs if entry["event"] == "provider_call"]
    assert (entry["log_level"], entry["next"], entry["status"]) == ("info", fallback, 400)


@pytest.mark.parametrize(
    ("n", "message"),
    [
        (1, "'n' : number must be at most 1"),  # one sample asked: no fallback left
        (5, "max_tokens is too large: 9000"),  # several asked, refused for something else
    ],
)
async def test_a_give_up_that_is_no_refusal_of_n_stays_a_warning(
    clock: FakeClock, n: int, message: str
) -> None:
    provider = ScriptedProvider([refused_n(message)])
    with capture_logs() as logs, pytest.raises(BadRequestError):
        await dispatcher(provider, clock, [K1]).complete(dataclasses.replace(request(), n=n))
    (entry,) = [entry for entry in logs if entry["event"] == "provider_call"]
    assert (entry["log_level"], entry["next"]) == ("warning", "give_up")
