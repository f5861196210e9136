"""Per-provider limits: requests and tokens per minute, and calls in flight.

Every concurrent call of an engine draws from the same `ProviderLimits` of its provider.
A call is admitted once, through the provider's `PriorityGate` (`ProviderLimits.gate`: at
most ``max_concurrency`` calls admitted, the oldest run's call first), and holds its place
until it ends, its waits for the rate buckets and its retries included.
Rates have two scopes (see `ProviderSettings`): ``rpm``/``tpm`` for the provider as a whole
and ``key_rpm``/``key_tpm`` for each key; a call waits for every bucket it draws from. The
request buckets are aiolimiter leaky buckets, created lazily inside the running loop; the
token buckets are `_TokenBucket`s, which let one request bigger than the burst overdraw.
The buckets adapt to what the provider says: a key whose ``remaining`` header reached 0, or
that got a 429 with Retry-After, pauses until the reset; a 429 that says nothing halves the
effective request rate of that key (a key nothing paced first adopts the rate it was sending
at), which then recovers additively with every success. Where
no rate is configured, a key adopts the per-minute limits its replies announce
(``x-ratelimit-limit-requests``/``-tokens``, Anthropic's ``anthropic-ratelimit-*-limit``), so
that an engine told nothing paces itself after the first reply instead of bursting into
429s and retrying in a crowd when the reset comes.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from ._admission import PriorityGate
from ._config import ProviderSettings
from ._logging import get_logger
from ._retry import limit_reset_error
from ._types import ChatRequest

if TYPE_CHECKING:
    from aiolimiter import AsyncLimiter

__all__ = ["LimiterStatistics", "ProviderLimits", "estimate_tokens"]

log = get_logger(__name__)

# Buckets allow a burst of this many seconds' worth, not a whole minute's, and fill at
# slightly under the configured rate: against a limit counted over any sliding 60 s window,
# burst + 60 s of refill must stay under the limit, or a long run meets a wall of 429s at
# the end of its first minute (measured: a 10 s burst at the full rate drew 3% 429s).
_BURST_S = 1.0
_HEADROOM = 0.98
_MIN_FACTOR = 0.1
# Additive increase: each success gives back this much of the rate a 429 took away.
_INCREASE = 0.05
# Requests remembered per key while no rate paces it, to know the rate a 429 storm began at.
_SENT_KEPT = 4096
_SENT_WINDOW_S = 60.0
# Rounding slack of the token bucket, in tokens: a wait that long is no wait.
_EPSILON = 1e-6
# The headers in which providers announce their per-minute limits (lower-cased names).
_ANNOUNCED_RPM = ("x-ratelimit-limit-requests", "anthropic-ratelimit-requests-limit")
_ANNOUNCED_TPM = ("x-ratelimit-limit-tokens", "anthropic-ratelimit-tokens-limit")
_ANNOUNCED = frozenset(_ANNOUNCED_RPM + _ANNOUNCED_TPM)
# Output budget assumed when a request gives no max_tokens.
_DEFAULT_OUTPUT_TOKENS = 1024

Sleep = Callable[[float], Awaitable[None]]


def _leaky_bucket(per_minute: float) -> AsyncLimiter:
    """A bucket refilling at ``per_minute`` with room for `_BURST_S` seconds' worth."""
    # Imported with the first rate there is to keep: aiolimiter reads its own version from
    # the installed metadata as it is imported (about 2-4 ms of CPU), which a run with no
    # rate configured or announced (a cached rerun: nothing sent) never needs.
    from aiolimiter import AsyncLimiter

    capacity = max(1.0, per_minute / 60.0 * _BURST_S)
    return AsyncLimiter(capacity, capacity * 60.0 / per_minute)


class _TokenBucket:
    """A leaky bucket of tokens in which one request may be bigger than the burst.

    aiolimiter refuses (or, clamped, undercharges) an amount over its capacity, and a
    prompt plus its output budget often is over a one-second burst (tpm=6000 gives 98
    tokens): charged only the burst, ~1100-token requests ran at 11x the tpm. Here a
    request goes once the bucket has room for what fits in the burst, then adds its full
    cost, which may leave the bucket in debt; the requests after it wait for the debt to
    drain. Nothing is paid up front, so an idle provider sends a big request at once, and
    the long-run rate is still the refill rate (a sliding 60 s window may see one request
    more than the rate: paying up front would not help, as the provider counts a request
    when it is sent).

    Waiters queue on a lock in arrival order, so small requests cannot starve a big one.
    It runs on the injected clock and sleep (tests pass fake ones).
    """

    __slots__ = ("_last", "_level", "_lock", "capacity", "per_second")

    def __init__(self, per_minute: float, clock: Callable[[], float]) -> None:
        self.per_second = per_minute / 60.0
        self.capacity = max(1.0, self.per_second * _BURST_S)
        self._level = 0.0  # tokens in the bucket; more than `capacity` is debt
        self._last = clock()
        self._lock: asyncio.Lock | None = None

    def wait_s(self, amount: float, now: float) -> float:
        """Drain the bucket to ``now``; the seconds until ``amount`` may go."""
        self._level = max(self._level - (now - self._last) * self.per_second, 0.0)
        self._last = now
        excess = self._level + min(amount, self.capacity) - self.capacity
        return excess / self.per_second if excess > _EPSILON else 0.0

    async def acquire(self, amount: float, clock: Callable[[], float], sleep: Sleep) -> None:
        """Wait until ``amount`` tokens may go, then charge all of them."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        # An uncontended asyncio lock is taken without a loop turn (the hot path).
        async with self._lock:
            while (wait := self.wait_s(amount, clock())) > 0:
                await sleep(wait)
            # Charged only once through: a waiter cancelled above has taken nothing.
            self._level += amount


def estimate_tokens(request: ChatRequest) -> int:
    """A cheap upper-ish estimate of a call's tokens: prompt characters / 4 + output budget."""
    chars = sum(len(message["content"]) for message in request.messages)
    return chars // 4 + (request.max_tokens or _DEFAULT_OUTPUT_TOKENS) * request.n


@dataclass(frozen=True, slots=True)
class LimiterStatistics:
    """A snapshot of a provider's limits.

    Attributes:
        provider: the model_type.
        rpm: configured requests per minute for the whole provider, or None.
        tpm: configured tokens per minute for the whole provider, or None.
        max_concurrency: the cap on calls admitted at once.
        in_flight: calls admitted now (sending, or waiting for a rate bucket or a retry).
        waiting: calls waiting to be admitted.
        keys: key fingerprints with a bucket.
        slowed: keys whose effective rate is lowered after a 429.
        paused: keys paused until a reset.
        learned: keys pacing themselves at limits their replies announced.
        key_rpm: configured requests per minute per key, or None.
        key_tpm: configured tokens per minute per key, or None.
    """

    provider: str
    rpm: float | None
    tpm: float | None
    max_concurrency: int
    in_flight: int
    waiting: int
    keys: int
    slowed: int
    paused: int
    learned: int = 0
    key_rpm: float | None = None
    key_tpm: float | None = None


@dataclass(slots=True)
class _Bucket:
    rpm: AsyncLimiter | None
    tpm: _TokenBucket | None
    factor: float = 1.0
    paused_until: float = 0.0
    # Send times while nothing paces the key (no rate configured, learned or adapted).
    sent: deque[float] = field(default_factory=lambda: deque(maxlen=_SENT_KEPT))
    adapted_rpm: float | None = None
    # Limits adopted from the provider's headers (None: configured, or never announced).
    learned_rpm: float | None = None
    learned_tpm: float | None = None
    # One call at a time waits for the buckets, the oldest run's first (see `acquire`).
    turn: PriorityGate = field(default_factory=lambda: PriorityGate(1))


def _announced(headers: Mapping[str, str], names: tuple[str, ...]) -> float | None:
    """The first positive per-minute limit among ``names`` in ``headers``, if any."""
    for name in names:
        value = headers.get(name)
        if value is None:
            continue
        try:
            limit = float(value)
        except ValueError:
            continue
        if limit > 0 and math.isfinite(limit):
            return limit
    return None


class ProviderLimits:
    """The admission gate, and the rate buckets (per provider and per key), of one provider.

    Args:
        provider: the model_type.
        settings: its rpm, tpm, key_rpm, key_tpm and max_concurrency.
        clock: a monotonic clock for pauses and token buckets (tests pass a fake one).
        sleep: an async sleep for pauses and token buckets (tests pass one that advances
            the fake clock).
    """

    def __init__(
        self,
        provider: str,
        settings: ProviderSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self.provider = provider
        self.settings = settings
        self._clock = clock
        self._sleep = sleep
        self._shared: _Bucket | None = None
        self._buckets: dict[str | None, _Bucket] = {}
        #: The one admission of a call: ``max_concurrency`` places, oldest ticket first.
        self.gate = PriorityGate(settings.max_concurrency)
        self._learned_tokens = False

    def __repr__(self) -> str:
        s = self.statistics()
        return (
            f"ProviderLimits({self.provider!r}, rpm={s.rpm}, tpm={s.tpm}, "
            f"key_rpm={s.key_rpm}, key_tpm={s.key_tpm}, "
            f"in_flight={s.in_flight}/{s.max_concurrency}, waiting={s.waiting})"
        )

    @property
    def counts_tokens(self) -> bool:
        """Whether a tokens-per-minute limit is set or was announced (only then are tokens
        estimated)."""
        return (
            self.settings.tpm is not None
            or self.settings.key_tpm is not None
            or self._learned_tokens
        )

    def _new_bucket(self, rpm: float | None, tpm: float | None) -> _Bucket:
        return _Bucket(
            _leaky_bucket(rpm * _HEADROOM) if rpm is not None else None,
            _TokenBucket(tpm * _HEADROOM, self._clock) if tpm is not None else None,
        )

    def _bucket(self, key_id: str | None) -> _Bucket:
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._new_bucket(self.settings.key_rpm, self.settings.key_tpm)
            self._buckets[key_id] = bucket
        return bucket

    def acquire_nowait(self, key_id: str | None) -> bool:
        """Let a key's request through at once when nothing paces it (no rate bucket of the
        key's or the provider's, no pause): True, counted as `acquire` counts it; False
        changes nothing, and the caller awaits `acquire`."""
        bucket = self._bucket(key_id)
        shared = self._shared
        if shared is None or bucket.paused_until > self._clock():
            return False  # never acquired yet (`acquire` builds the shared bucket), or paused
        if bucket.rpm is not None or bucket.tpm is not None:
            return False
        if shared.rpm is not None or shared.tpm is not None:
            return False
        bucket.sent.append(self._clock())
        return True

    async def acquire(
        self,
        key_id: str | None,
        tokens: int,
        *,
        max_pause_s: float | None = None,
        ticket: int = 0,
    ) -> None:
        """Wait until a key may make one more request of about ``tokens`` tokens.

        Args:
            key_id: the key's fingerprint (None for a pool without keys).
            tokens: the request's estimated tokens (0 when no token limit applies).
            max_pause_s: the longest a paused key is waited for; None waits it out.
            ticket: the start ticket of the run the call belongs to: calls waiting for a
                bucket get their turns lowest ticket first (see `PriorityGate`).

        Raises:
            RateLimitResetError: the key is paused (a reset announced by the provider) for
                longer than ``max_pause_s``.
        """
        if self.acquire_nowait(key_id):
            return  # nothing paces the key: see there
        bucket = self._bucket(key_id)
        while (wait := bucket.paused_until - self._clock()) > 0:
            if max_pause_s is not None and wait > max_pause_s:
                raise limit_reset_error(self.provider, wait, key_id=key_id, longest_s=max_pause_s)
            await self._sleep(wait)
        if self._shared is None:
            self._shared = self._new_bucket(self.settings.rpm, self.settings.tpm)
        # The key's own buckets first: a wait there should not hold the provider's share.
        for scope in (bucket, self._shared):
            if scope.rpm is None and scope.tpm is None:
                continue
            # A slowed key pays more than one unit a request: same bucket, lower rate.
            units = 0.0 if scope.rpm is None else min(1.0 / bucket.factor, scope.rpm.max_rate)
            if scope.turn.statistics().in_flight == 0 and self._has_room(scope, units, tokens):
                await self._take(scope, units, tokens)  # room now: no wait, no turn needed
                continue
            # The buckets serve their waiters first come first, so under a rate limit a
            # batch's new prompts went before the next call of its old ones (its first
            # answer came after every prompt in flight had sent its first requests): one
            # waiter at a time, the oldest run's first, as the admission gate does.
            await scope.turn.acquire(ticket)
            try:
                await self._take(scope, units, tokens)
            finally:
                scope.turn.release()
        if bucket.rpm is None and self._shared.rpm is None:
            bucket.sent.append(self._clock())

    def _has_room(self, scope: _Bucket, units: float, tokens: int) -> bool:
        """Whether ``scope``'s buckets let a request through now, without a wait."""
        if scope.rpm is not None and not scope.rpm.has_capacity(units):
            return False
        return scope.tpm is None or scope.tpm.wait_s(float(tokens), self._clock()) <= 0

    async def _take(self, scope: _Bucket, units: float, tokens: int) -> None:
        """Charge a request to ``scope``'s buckets, once they have room."""
        if scope.rpm is not None:
            await scope.rpm.acquire(units)
        if scope.tpm is not None:
            await scope.tpm.acquire(float(tokens), self._clock, self._sleep)

    def pause(self, key_id: str | None, seconds: float) -> None:
        """Hold every request of a key for ``seconds`` (a reset time or a Retry-After)."""
        bucket = self._bucket(key_id)
        bucket.paused_until = max(bucket.paused_until, self._clock() + seconds)

    def rate_limited(self, key_id: str | None, retry_after: float | None) -> None:
        """A 429: pause as told, or, told nothing, halve the key's effective rate.

        A key that nothing paced (no rate configured or announced) adopts the rate it was
        sending at when the 429s began, halved: additive increase and multiplicative
        decrease from there, as TCP does, instead of every call backing off on its own
        through a storm of 429s.
        """
        if retry_after is not None:
            self.pause(key_id, retry_after)
            return
        bucket = self._bucket(key_id)
        if bucket.rpm is None and (self._shared is None or self._shared.rpm is None):
            observed = self._observed_rpm(bucket)
            if observed is not None:
                bucket.rpm, bucket.adapted_rpm = _leaky_bucket(observed), observed
                bucket.sent.clear()
                log.info("rate_adapted", provider=self.provider, key_id=key_id, rpm=round(observed))
        bucket.factor = max(bucket.factor / 2.0, _MIN_FACTOR)

    def _observed_rpm(self, bucket: _Bucket) -> float | None:
        """Requests per minute a key sent over the last minute (None: too few to tell)."""
        now = self._clock()
        recent = [t for t in bucket.sent if now - t <= _SENT_WINDOW_S]
        if len(recent) < 2:
            return None
        span = max(now - recent[0], 1.0)
        return len(recent) / span * 60.0

    def learn(self, key_id: str | None, headers: Mapping[str, str]) -> None:
        """Adopt the per-minute limits a reply announces for its key, where no rate is
        configured (a configured one always wins)."""
        bucket = self._bucket(key_id)
        if headers.keys().isdisjoint(_ANNOUNCED):
            return  # no limit announced (every reply of most servers): nothing to read
        if self.settings.rpm is None and self.settings.key_rpm is None:
            rpm = _announced(headers, _ANNOUNCED_RPM)
            if rpm is not None and rpm != bucket.learned_rpm:
                bucket.rpm, bucket.learned_rpm = _leaky_bucket(rpm * _HEADROOM), rpm
                log.info("rate_limit_learned", provider=self.provider, key_id=key_id, rpm=rpm)
        if self.settings.tpm is None and self.settings.key_tpm is None:
            tpm = _announced(headers, _ANNOUNCED_TPM)
            if tpm is not None and tpm != bucket.learned_tpm:
                bucket.tpm = _TokenBucket(tpm * _HEADROOM, self._clock)
                bucket.learned_tpm, self._learned_tokens = tpm, True
                log.info("rate_limit_learned", provider=self.provider, key_id=key_id, tpm=tpm)

    def succeeded(self, key_id: str | None) -> None:
        """A call succeeded: a slowed key's rate recovers by a step."""
        bucket = self._buckets.get(key_id)
        if bucket is not None and bucket.factor < 1.0:
            bucket.factor = min(bucket.factor + _INCREASE, 1.0)

    def statistics(self) -> LimiterStatistics:
        """A snapshot of the slots and buckets."""
        now = self._clock()
        gate = self.gate.statistics()
        return LimiterStatistics(
            provider=self.provider,
            rpm=self.settings.rpm,
            tpm=self.settings.tpm,
            key_rpm=self.settings.key_rpm,
            key_tpm=self.settings.key_tpm,
            max_concurrency=self.settings.max_concurrency,
            in_flight=gate.in_flight,
            waiting=gate.waiting,
            keys=len(self._buckets),
            slowed=sum(1 for b in self._buckets.values() if b.factor < 1.0),
            paused=sum(1 for b in self._buckets.values() if b.paused_until > now),
            learned=sum(1 for b in self._buckets.values() if b.learned_rpm or b.learned_tpm),
        )
