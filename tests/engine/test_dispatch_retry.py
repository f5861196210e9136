"""The retry policy and the parsing of the provider's rate-limit headers."""

from __future__ import annotations

import random

import pytest

from archon_async import ProviderSettings
from archon_async._exceptions import (
    AuthenticationError,
    BadRequestError,
    KeyPoolExhaustedError,
    MalformedResponseError,
    ProviderConnectionError,
    ProviderError,
    ProviderServerError,
    ProviderStatusError,
    ProviderTimeoutError,
    RateLimitError,
)
from archon_async._http import rate_limit_headers, retry_after_from_headers
from archon_async._retry import RetryPolicy, is_retryable


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (RateLimitError("x", status_code=429), True),
        (ProviderServerError("x", status_code=500), True),
        (ProviderServerError("x", status_code=529), True),
        (ProviderStatusError("x", status_code=408), True),
        (ProviderStatusError("x", status_code=409), True),
        (ProviderTimeoutError("x"), True),
        (ProviderConnectionError("x"), True),
        (MalformedResponseError("x"), True),
        (BadRequestError("x", status_code=400), False),
        (BadRequestError("x", status_code=404), False),
        (BadRequestError("x", status_code=422), False),
        (AuthenticationError("x", status_code=401), False),
        (AuthenticationError("x", status_code=403), False),
        (KeyPoolExhaustedError("x"), False),
        (ProviderError("x"), False),
    ],
)
def test_what_is_retried(error: Exception, retryable: bool) -> None:
    assert is_retryable(error) is retryable


def test_backoff_grows_to_a_cap_with_jitter() -> None:
    policy = RetryPolicy(jitter=0.25)
    rng = random.Random(1)
    error = ProviderServerError("x", status_code=500)
    delays = [policy.delay(retry, error, rng) for retry in range(1, 8)]
    caps = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(0.75 * cap <= delay <= cap for delay, cap in zip(delays, caps, strict=True))


def test_retry_after_wins_within_its_cap() -> None:
    policy = RetryPolicy(max_retry_after_s=30.0)
    assert policy.delay(1, RateLimitError("x", status_code=429, retry_after=12.0)) == 12.0
    too_long = RateLimitError("x", status_code=429, retry_after=120.0)
    assert not policy.should_retry(too_long, 1, 0.0)


def test_attempts_and_elapsed_time_are_bounded() -> None:
    policy = RetryPolicy.from_settings(ProviderSettings(max_retries=2))
    error = ProviderServerError("x", status_code=502)
    assert policy.should_retry(error, 2, 0.0)
    assert not policy.should_retry(error, 3, 0.0)
    assert not policy.should_retry(error, 1, policy.max_elapsed_s)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After-Ms": "1500"}, 1.5),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "Thu, 01 Jan 1970 00:01:40 GMT"}, 60.0),
        ({"retry-after": "soon"}, None),
        ({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0s"}, 360.0),
        ({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "20ms"}, 0.02),
        ({"x-ratelimit-remaining-requests": "5", "x-ratelimit-reset-requests": "6m0s"}, None),
        (
            {
                "anthropic-ratelimit-tokens-remaining": "0",
                "anthropic-ratelimit-tokens-reset": "1970-01-01T00:02:00Z",
            },
            80.0,
        ),
        ({}, None),
        ({"x-request-id": "req_1", "X-RateLimit-Remaining-Requests": "3"}, None),
        ({"X-RateLimit-Remaining-Tokens": "0", "X-RateLimit-Reset-Tokens": "2s"}, 2.0),
    ],
)
def test_retry_after_from_headers(headers: dict[str, str], expected: float | None) -> None:
    result = retry_after_from_headers(headers, now=40.0)
    assert result == (pytest.approx(expected) if expected is not None else None)


def test_rate_limit_headers_are_captured_lowercase() -> None:
    headers = {"X-RateLimit-Limit-Requests": "10", "Retry-After": "1", "Server": "s"}
    assert rate_limit_headers(headers) == {"x-ratelimit-limit-requests": "10", "retry-after": "1"}


def test_rate_limit_headers_keep_every_limit_name_in_any_case_and_nothing_else() -> None:
    # Names that start with the prefixes' first letters but are no limit header are left out.
    headers = {
        "X-RateLimit-Remaining-Tokens": "5",
        "ANTHROPIC-RATELIMIT-REQUESTS-LIMIT": "50",
        "retry-after-ms": "20",
        "X-Request-Id": "req_1",
        "x-request-start": "t",
        "Accept-Ranges": "bytes",
        "Report-To": "r",
        "": "empty",
        "Content-Type": "application/json",
    }
    assert rate_limit_headers(headers) == {
        "x-ratelimit-remaining-tokens": "5",
        "anthropic-ratelimit-requests-limit": "50",
        "retry-after-ms": "20",
        "x-request-id": "req_1",
    }
