"""The one retry policy of the engine: which failures to retry, and how long to wait.

Retried: 408/409/429/5xx, timeouts, broken connections and malformed replies (a model
can answer well on the next try). Never retried: other 4xx (bad request, refused key,
unknown model) and a key out of quota or credit, which cannot succeed by waiting (the
dispatcher may still move on to another key). Delays back off exponentially from 0.5 s
to 8 s with jitter, and a provider's Retry-After wins when it gives one (up to a cap).
A refusal of ``n`` (several samples asked in one request) is told apart here too: the call
path draws those samples again in smaller requests (`archon_async.callpath._samples`), so
the dispatcher logs it as that fallback, not as a failure.
"""

from __future__ import annotations

import math
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from ._config import ProviderSettings
from ._exceptions import (
    AuthenticationError,
    BadRequestError,
    CircuitOpenError,
    KeyPoolExhaustedError,
    MalformedResponseError,
    ProviderConnectionError,
    ProviderError,
    ProviderStatusError,
    RateLimitResetError,
)

__all__ = [
    "RetryPolicy",
    "is_out_of_quota",
    "is_retryable",
    "limit_reset_error",
    "most_allowed",
    "refuses_n",
]

_RETRYABLE_STATUS = frozenset({408, 409, 429})
# 402 Payment Required (DeepSeek, OpenRouter, ...) says it by its status alone.
_QUOTA_STATUS = 402
# Error-body phrases (lower case) that mean the account behind a key has run dry, so that
# waiting cannot help it; another key may belong to another account. Only unambiguous
# ones: Gemini's "exceeded your current quota" 429s are per-minute quotas too, so not here.
_QUOTA_SIGNALS = (
    "insufficient_quota",  # OpenAI 429
    "billing_hard_limit_reached",  # OpenAI 400
    "credit balance is too low",  # Anthropic 400
    "insufficient balance",  # DeepSeek 402
    "insufficient credits",  # OpenRouter 402
)


def is_out_of_quota(error: BaseException) -> bool:
    """Whether an error says the key's account is out of quota or credit (not a rate)."""
    if not isinstance(error, ProviderStatusError):
        return False
    if error.status_code == _QUOTA_STATUS:
        return True
    body = (error.body or "").lower()
    return any(signal in body for signal in _QUOTA_SIGNALS)


def is_retryable(error: BaseException) -> bool:
    """Whether another attempt of the same call could succeed."""
    if isinstance(error, ProviderStatusError):
        if is_out_of_quota(error):
            return False
        if isinstance(error, AuthenticationError):
            return False  # the dispatcher may rotate to another key, but never waits
        if isinstance(error, BadRequestError):
            return False  # refused for what it asks, whatever the status (llama.cpp's 500)
        return error.status_code in _RETRYABLE_STATUS or error.status_code >= 500
    if isinstance(error, KeyPoolExhaustedError | CircuitOpenError):
        return False
    return isinstance(error, ProviderConnectionError | MalformedResponseError)


# How providers word a refusal of several choices: OpenAI-style {"param": "n"}, Groq's
# "'n' : number must be at most 1", Gemini's candidateCount, vLLM's "n must be 1 ...",
# llama.cpp's "Only one completion choice is allowed", Gemini's "Multiple candidates is not
# enabled for this model" (Gemini 3) and "Only one candidate can be specified" (gemini-pro).
_NAMES_N = re.compile(
    r"""["']n["']|\bn\b\s*(?:must|=|:|is|should|>|<)"""
    r"|candidate_?count|number of (?:choices|candidates)|one completion choice"
    r"|multiple candidates|only one candidate",
    re.IGNORECASE,
)


# How they state the most a request may ask: "must be at most 3" (Groq, Gemini's
# candidateCount), OpenAI's "Expected a value <= 10", "between 1 and 4".
_MOST = re.compile(r"at most (\d+)|<=\s*(\d+)|between 1 and (\d+)", re.IGNORECASE)


def refuses_n(error: ProviderError) -> bool:
    """Whether a failed request was refused for asking several samples at once."""
    if not isinstance(error, ProviderStatusError):
        return False
    # A refusal is a 400 or 422, or what the adapter read as one (llama.cpp's 500).
    if error.status_code not in (400, 422) and not isinstance(error, BadRequestError):
        return False
    return bool(_NAMES_N.search(f"{error} {error.body or ''}"))


def most_allowed(error: ProviderError) -> int | None:
    """The most samples a request may ask for, as a refusal of ``n`` states it, if it does."""
    found = _MOST.search(f"{error} {getattr(error, 'body', None) or ''}")
    if found is None:
        return None
    return max(int(next(group for group in found.groups() if group is not None)), 1)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times and how long to retry a failed call.

    Attributes:
        max_retries: retries after the first attempt.
        initial_delay_s: the first backoff delay.
        max_delay_s: the largest backoff delay.
        jitter: the fraction of a delay drawn at random (0.25 takes up to 25% off).
        max_retry_after_s: the longest Retry-After honoured; longer ones fail the call.
        max_elapsed_s: no retry starts after this long since the first attempt.
        max_told_waits: 429s that said when to come back (Retry-After) a call may wait
            out on top of ``max_retries``: such a 429 is the provider's queue, not a
            failure, and when many calls share a limit they take turns through it.
    """

    max_retries: int = 4
    initial_delay_s: float = 0.5
    max_delay_s: float = 8.0
    jitter: float = 0.25
    max_retry_after_s: float = 60.0
    max_elapsed_s: float = 300.0
    max_told_waits: int = 16

    @classmethod
    def from_settings(cls, settings: ProviderSettings) -> RetryPolicy:
        """The policy for a provider: its ``max_retries``, the defaults otherwise."""
        return cls(max_retries=settings.max_retries)

    def delay(self, retry: int, error: ProviderError, rng: random.Random | None = None) -> float:
        """The wait before retry number ``retry`` (1 for the first retry).

        A rate-limit error with a Retry-After is waited out as the provider asks.
        """
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None and 0 <= retry_after <= self.max_retry_after_s:
            return float(retry_after)
        backoff = min(self.initial_delay_s * 2.0 ** (retry - 1), self.max_delay_s)
        draw = (rng or random).random()
        return backoff * (1.0 - self.jitter * draw)

    def should_retry(self, error: BaseException, retry: int, elapsed_s: float) -> bool:
        """Whether to make retry number ``retry`` after ``error``, ``elapsed_s`` into the call."""
        if retry > self.max_retries or elapsed_s >= self.max_elapsed_s:
            return False
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None and retry_after > self.max_retry_after_s:
            return False  # the provider asks for a longer pause than a call should wait
        return is_retryable(error)


def limit_reset_error(
    provider: str, wait_s: float, *, key_id: str | None, model: str = "", longest_s: float
) -> RateLimitResetError:
    """The error of a call that would wait ``wait_s`` for a rate limit to reset, longer
    than a call may wait (``longest_s``): it says when the limit resets and what to do."""
    resets_at = datetime.fromtimestamp(time.time() + wait_s, UTC).strftime("%H:%M:%S UTC")
    key = f" of key {key_id}" if key_id else ""
    return RateLimitResetError(
        f"the rate limit{key} resets in {_duration(wait_s)} (at {resets_at}), longer than a "
        f"call waits ({longest_s:g} s): rerun after the reset (a batch resumes where it "
        "stopped), or give more keys",
        provider=provider,
        model=model,
        status_code=429,
        retry_after=wait_s,
    )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(math.ceil(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"
