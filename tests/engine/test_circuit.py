"""Per-model circuit breakers: open after failures in a row, one trial after the pause."""

from __future__ import annotations

import pytest

from archon_async._circuit import CircuitBreakers
from archon_async._exceptions import (
    BadRequestError,
    CircuitOpenError,
    ProviderConnectionError,
    ProviderServerError,
    ProviderTimeoutError,
)
from tests.providers.helpers import FakeClock, chat_request

SETTINGS = {"threshold": 2, "open_s": 30.0}


def test_opens_after_failures_in_a_row_then_lets_one_trial_through() -> None:
    clock = FakeClock()
    circuits = CircuitBreakers(clock=clock)
    dead, other = chat_request("X_API", model="dead"), chat_request("X_API", model="fine")
    assert not circuits.failed(dead, ProviderTimeoutError("slow"), **SETTINGS)
    # A 5xx is answered at once: the retry policy's backoff deals with it.
    assert not circuits.failed(dead, ProviderServerError("down", status_code=503), **SETTINGS)
    assert circuits.failed(dead, ProviderTimeoutError("slow"), **SETTINGS)
    with pytest.raises(CircuitOpenError, match=r"not called.*30 s more"):
        circuits.before_attempt(dead, threshold=2)
    circuits.before_attempt(other, threshold=2)  # another model of the vendor is not affected

    clock.now += 29.7
    with pytest.raises(CircuitOpenError, match=r"for 1 s more"):  # not "0 s more"
        circuits.before_attempt(dead, threshold=2)
    clock.now += 0.3
    circuits.before_attempt(dead, threshold=2)  # the half-open trial
    with pytest.raises(CircuitOpenError, match=r"until its trial call, in flight, ends"):
        circuits.before_attempt(dead, threshold=2)  # only one trial at a time
    circuits.succeeded(dead)
    circuits.before_attempt(dead, threshold=2)
    assert circuits.open_models() == []


def test_a_failed_trial_opens_again_and_refusals_do_not_count() -> None:
    clock = FakeClock()
    circuits = CircuitBreakers(clock=clock)
    dead = chat_request("X_API", model="dead")
    # A 400 says the request is wrong, not that the model is down.
    for _ in range(5):
        assert not circuits.failed(dead, BadRequestError("bad", status_code=400), **SETTINGS)
    circuits.before_attempt(dead, threshold=2)
    circuits.failed(dead, ProviderTimeoutError("slow"), **SETTINGS)
    circuits.failed(dead, ProviderTimeoutError("slow"), **SETTINGS)
    clock.now += 31.0
    circuits.before_attempt(dead, threshold=2)
    assert circuits.failed(dead, ProviderTimeoutError("slow"), **SETTINGS)
    # (model_type, endpoint, model): a request with no base URL is at its model_type
    assert circuits.open_models() == [("X_API", "X_API", "dead")]
    # Threshold 0 turns the breaker off.
    circuits.before_attempt(dead, threshold=0)


def test_a_model_that_answers_other_calls_is_not_cut_off() -> None:
    clock = FakeClock()
    circuits = CircuitBreakers(clock=clock)
    busy = chat_request("X_API", model="busy")
    circuits.succeeded(busy)
    clock.now += 1.0
    for _ in range(3):  # timeouts under load, while the model still answered 1 s ago
        assert not circuits.failed(busy, ProviderTimeoutError("slow"), quiet_s=5.0, **SETTINGS)
    circuits.before_attempt(busy, threshold=2)
    clock.now += 5.0  # then silence for a whole timeout: the next timeout opens it
    assert circuits.failed(busy, ProviderTimeoutError("slow"), quiet_s=5.0, **SETTINGS)


def test_calls_given_up_on_a_5xx_or_broken_connection_count_once_each() -> None:
    clock = FakeClock()
    circuits = CircuitBreakers(clock=clock)
    down = chat_request("X_API", model="down")
    for _ in range(3):  # attempts that are retried do not count
        assert not circuits.failed(down, ProviderServerError("x", status_code=502), **SETTINGS)
    assert not circuits.failed(
        down, ProviderServerError("x", status_code=502), gave_up=True, **SETTINGS
    )
    circuits.before_attempt(down, threshold=2)
    # Not-sent calls (its own refusals) say nothing new of the model.
    refused = CircuitOpenError("open", provider="X_API", model="down")
    assert not circuits.failed(down, refused, gave_up=True, **SETTINGS)
    circuits.before_attempt(down, threshold=2)
    # A model that replied a moment ago is alive: a 5xx only some prompts meet does not cut
    # it off; once it has been silent for quiet_s, the next failure opens the circuit.
    circuits.succeeded(down)
    for _ in range(3):
        assert not circuits.failed(
            down, ProviderConnectionError("reset"), gave_up=True, quiet_s=60.0, **SETTINGS
        )
    clock.now += 60.0
    assert circuits.failed(
        down, ProviderConnectionError("reset"), gave_up=True, quiet_s=60.0, **SETTINGS
    )
    assert circuits.open_models() == [("X_API", "X_API", "down")]
    with pytest.raises(CircuitOpenError, match="not called"):
        circuits.before_attempt(down, threshold=2)
