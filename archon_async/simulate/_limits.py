"""The simulated provider's rate limits: a sliding window or a token bucket per bucket name.

Both count requests per bucket (a model, or an API key) and admit at most ``allowance``
requests per ``window_s`` seconds, where the server sets ``allowance = rpm * window_s / 60``:

* `SlidingWindow`: at most ``allowance`` requests in any ``window_s`` seconds. With the
  default 60 s window this is a plain requests-per-minute limit; a shorter window is a
  per-minute limit enforced over shorter periods, as OpenAI documents doing.
* `TokenBucket`: a bucket of ``allowance`` requests, refilled continuously at
  ``allowance / window_s`` per second (Anthropic's documented algorithm).

Checking and recording are separate steps, so that a request under two limits (its model's
and its key's) is recorded in both or in neither.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Admission", "RateLimiter", "SlidingWindow", "TokenBucket"]


@dataclass(frozen=True, slots=True)
class Admission:
    """A limiter's answer: admitted or not, and what the rate-limit headers report.

    Attributes:
        admitted: whether the request fits.
        limit: the allowance per window.
        remaining: requests left once this one is counted (0 when refused).
        reset_s: seconds until one more request fits (when refused, or when none remain),
            else until the oldest counted request stops counting.
    """

    admitted: bool
    limit: int
    remaining: int
    reset_s: float


class RateLimiter(Protocol):
    """What the server asks of a limiter."""

    def check(self, bucket: object, allowance: int, now: float) -> Admission:
        """Whether one more request of ``bucket`` fits at ``now`` (monotonic seconds)."""
        ...

    def record(self, bucket: object, allowance: int, now: float) -> None:
        """Count a request that `check` admitted (with the same allowance and time)."""
        ...


class SlidingWindow:
    """At most ``allowance`` requests per bucket in any ``window_s`` seconds."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self._seen: dict[object, deque[float]] = {}

    def check(self, bucket: object, allowance: int, now: float) -> Admission:
        times = self._seen.get(bucket)
        if times is None:
            times = self._seen[bucket] = deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) >= allowance:
            return Admission(False, allowance, 0, max(0.001, times[0] + self.window_s - now))
        oldest = times[0] if times else now
        return Admission(True, allowance, allowance - len(times) - 1, oldest + self.window_s - now)

    def record(self, bucket: object, allowance: int, now: float) -> None:
        self._seen[bucket].append(now)


class TokenBucket:
    """A bucket of ``allowance`` requests per name, refilled at ``allowance / window_s``/s."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        # name -> (requests' worth in the bucket, when it was last topped up)
        self._levels: dict[object, tuple[float, float]] = {}

    def _level(self, bucket: object, allowance: int, now: float) -> float:
        level, at = self._levels.get(bucket, (float(allowance), now))
        return min(float(allowance), level + (now - at) * allowance / self.window_s)

    def check(self, bucket: object, allowance: int, now: float) -> Admission:
        level = self._level(bucket, allowance, now)
        rate = allowance / self.window_s
        if level < 1.0:
            return Admission(False, allowance, 0, max(0.001, (1.0 - level) / rate))
        left = level - 1.0
        remaining = int(left)
        # When no whole request is left, the client should know when the next one fits.
        reset = (1.0 - left) / rate if remaining == 0 else (allowance - left) / rate
        return Admission(True, allowance, remaining, reset)

    def record(self, bucket: object, allowance: int, now: float) -> None:
        self._levels[bucket] = (self._level(bucket, allowance, now) - 1.0, now)
