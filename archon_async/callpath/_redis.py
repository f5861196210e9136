"""`RedisLimits`: rpm/tpm buckets and 429 cooldowns shared by processes through Redis.

Several processes (a search's workers, a service's replicas) on one key must together stay
under the provider's limit. Each process keeps its own `ProviderLimits` (in-flight caps,
learned limits, slowed keys); on top of them every request also takes its turn in buckets
kept in Redis, one per scope: the provider as a whole (``rpm``/``tpm``) and each key
(``key_rpm``/``key_tpm``). A 429 that says when to come back pauses the scope for every
process; so does a per-minute limit a key's replies announce where none is configured (each
process learns it from its own replies, and they hold it together). Keys are named by
fingerprint only: no secret reaches Redis.

A bucket is GCRA (the generic cell rate algorithm, as in ATM traffic shaping and the
redis-cell module) with reservations: Redis keeps the bucket's theoretical arrival time,
and one Lua script, run atomically on Redis's own clock, books the request's turn and says
how many microseconds away it is; the process sleeps that long and sends. One round trip a
request, no retry storm (turns are handed out one interval apart, after a pause too), and no
process's clock matters. Requires the ``redis`` extra (``pip install 'archon-async[redis]'``).

Why ``headroom`` 0.95 and what a late wake-up may do: the buckets fill at ``headroom`` of the
configured rate with no burst, so any window of W seconds holds at most ``W * headroom`` of
the rate's turns. A request sent D seconds after its turn lands in a window with the turns of
``W + D`` seconds at worst, which stays within the provider's limit as long as
``(W + D) * headroom <= W``: D up to ``W * (1 - headroom) / headroom`` (3.2 s of a 60 s
window at 0.95). Half of that slack is left to the network and the provider's own clock; a
process woken later than the other half (a starved loop) books a new turn instead of sending,
and one woken earlier sends: giving every slightly late turn up, as a fraction of one interval
would, wastes a turn each time a loaded machine wakes a sleeper a few milliseconds late.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from .._admission import PriorityGate
from .._config import ProviderSettings
from .._exceptions import ConfigError
from .._limits import ProviderLimits
from .._redact import MASK, redacted_url

__all__ = ["RedisLimits"]

# A refusal of n kept as the least "most samples a request" any process learned.
_REFUSE = """
local known = redis.call('HGET', KEYS[1], ARGV[1])
if (not known) or tonumber(known) > tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 0
"""
_SEPARATOR = "\x1f"  # between model_type and model in a field name: in neither

_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local start = tonumber(redis.call('GET', KEYS[1]) or '0')
if start < now then start = now end
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > start then start = paused end
local interval = tonumber(ARGV[1])
if interval > 0 then
  local tat = start + interval * tonumber(ARGV[2])
  local ttl = math.floor((tat - now) / 1000) + 60000
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', ttl)
end
return start - now
"""
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_us = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_us > current then
  local ttl = math.floor(tonumber(ARGV[1]) / 1000) + 1000
  redis.call('SET', KEYS[1], string.format('%.0f', until_us), 'PX', ttl)
end
return 0
"""
_US = 1_000_000


class RedisLimits:
    """Limits shared through a Redis server, for `CallPath(shared_limits=...)`.

    Args:
        url: the Redis server, e.g. ``redis://127.0.0.1:6379/0``.
        prefix: the prefix of every Redis key (one per fleet sharing the limits).
        headroom: the fraction of each configured rate the buckets fill at, in (0, 1].
        window_s: the period, in seconds, over which the provider counts its per-minute
            limits (60; shorter where a provider enforces them over shorter periods):
            how late a request may be sent after its turn follows from it (see the module).

    Raises:
        ConfigError: the ``redis`` package is not installed, ``url`` is not a Redis URL,
            ``prefix`` is not a non-empty string without whitespace, or headroom or
            window_s is out of range. The server is reached when a
            `CallPath` opens (`check`): one that cannot be is a `ConfigError` then, before
            any call, and so is a failure of the server later, when a request takes its
            turn.
    """

    def __init__(
        self, url: str, *, prefix: str = "archon", headroom: float = 0.95, window_s: float = 60.0
    ) -> None:
        if not 0 < headroom <= 1:
            raise ConfigError(f"RedisLimits: headroom={headroom!r} must be in (0, 1]")
        if not window_s > 0:
            raise ConfigError(f"RedisLimits: window_s={window_s!r} must be a positive number")
        if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
            # An empty prefix would put the fleet's keys at the top of the server's key
            # space, where another fleet's empty prefix meets them.
            raise ConfigError(
                f"RedisLimits: prefix={prefix!r} must name the fleet sharing the limits: a "
                "non-empty string without spaces (default: archon)"
            )
        try:
            import redis.asyncio
        except ImportError:
            raise ConfigError(
                "limits shared through Redis need the redis client: "
                "pip install 'archon-async[redis]'"
            ) from None
        #: The server's URL as it may be shown: its password (user info, or a ``password=``
        #: query option) masked. Only the client holds the password (redis-py keeps it out
        #: of the client's repr), so no repr, ``vars()``, log or debugger shows it here.
        self.url = _masked_url(url)
        self.prefix = prefix
        self.headroom = headroom
        self.window_s = window_s
        # How late after its turn a request may still be sent (half the window's slack).
        self.late_s = window_s * (1 - headroom) / headroom / 2
        self.rebooked = 0  # turns given up by requests woken too late (bench/ reads it)
        try:
            self._client: Any = redis.asyncio.from_url(url)
            # The URL's query options become the connection's arguments, checked only when
            # it connects (a TypeError from deep in redis then): built once here, unconnected.
            pool = self._client.connection_pool
            pool.connection_class(**pool.connection_kwargs)
        except (ValueError, TypeError) as exc:  # redis's own words: the schemes it takes
            raise ConfigError(
                f"RedisLimits: {redacted_url(url)!r} is not a Redis URL ({exc}), e.g. "
                "redis://127.0.0.1:6379/0"
            ) from None
        self._admit = self._client.register_script(_ADMIT)
        self._pause = self._client.register_script(_PAUSE)
        self._refuse = self._client.register_script(_REFUSE)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._refusals_read = -1e9  # when `refusals` last read them (time.monotonic())
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)

    def __repr__(self) -> str:
        return f"RedisLimits(prefix={self.prefix!r})"

    def __getstate__(self) -> None:
        raise TypeError(
            "a RedisLimits cannot be pickled (it holds a connection, and the password in "
            "it): give each process RedisLimits(url) of its own"
        )

    def for_provider(
        self,
        provider: str,
        settings: ProviderSettings,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> ProviderLimits:
        """A provider's limits: its own, plus the shared buckets (the dispatcher calls it)."""
        return _SharedProviderLimits(self, provider, settings, clock=clock, sleep=sleep)

    async def check(self) -> None:
        """Reach the server once (`CallPath` does it when it opens, before any call).

        Raises:
            ConfigError: the server cannot be reached or refused us; it names the server
                (never its password) and what to do.
        """
        from redis.exceptions import AuthenticationError

        try:
            await self._client.ping()
        except AuthenticationError as exc:  # it is there: starting it is not the fix
            raise self._failed(
                exc,
                "refused the URL's credentials",
                "give the server's password in the URL (redis://:PASSWORD@host:6379/0, or "
                "redis://USER:PASSWORD@... for an ACL user)",
            ) from None
        except self._errors as exc:
            raise self._failed(exc, "cannot be reached") from None

    def _failed(
        self, exc: BaseException, what: str, fix: str = "start redis-server there, or fix the URL"
    ) -> ConfigError:
        return ConfigError(
            f"the Redis server of the shared limits, {self.url}, {what} "
            f"({type(exc).__name__}: {exc}): {fix} (--shared-limits / RedisLimits)"
        )

    async def admit(self, scope: str, kind: str, per_minute: float | None, cost: float) -> None:
        """Take the next turn of a shared bucket (``kind`` ``rpm`` or ``tpm``) for ``cost``
        units, and wait for it; with no rate, wait out the scope's pause only.

        A turn is reserved in Redis at once and then waited for (the script returns when
        it falls), so each request makes one round trip whatever the crowd.
        """
        interval = 60.0 * _US / (per_minute * self.headroom) if per_minute else 0.0
        keys = [f"{self.prefix}:{scope}:{kind}", f"{self.prefix}:{scope}:pause"]
        while True:
            try:
                wait_us = int(await self._admit(keys=keys, args=[interval, cost]))
            except self._errors as exc:
                raise self._failed(exc, "failed") from None
            if wait_us <= 0:
                return
            due = time.monotonic() + wait_us / _US
            await anyio.sleep(wait_us / _US)
            # Woken far too late (a starved process), sending now would crowd the window
            # the later turns fill: book again. A little late is within the headroom.
            if not interval or time.monotonic() - due <= self.late_s:
                return
            self.rebooked += 1

    async def refusals(self) -> dict[tuple[str, str], int]:
        """The (model_type, model) pairs some process recorded as refusing ``n``, with the
        most samples a request may ask of them.

        Raises:
            ConfigError: the server failed.
        """
        self._refusals_read = time.monotonic()
        try:
            fields = await self._client.hgetall(f"{self.prefix}:n_refused")
        except self._errors as exc:
            raise self._failed(exc, "failed") from None
        found = {}
        for pair, most in fields.items():
            model_type, _, model = pair.decode().partition(_SEPARATOR)
            found[(model_type, model)] = int(most)
        return found

    async def refresh_refusals(self, learn: Callable[[dict[tuple[str, str], int]], object]) -> None:
        """Hand ``learn`` the refusals of ``n`` some process recorded, if they were last read
        a second ago or more: a running process sees another's within about a second, as it
        does through the cache file (read once a second while it is written). A server that
        fails here is reported by the next request's turn, not by this."""
        if time.monotonic() - self._refusals_read < 1.0:
            return
        try:
            learn(await self.refusals())
        except ConfigError:
            return

    def remember_refusal(self, model_type: str, model: str, most: int) -> None:
        """Record for every process that a provider and model refused ``n`` (``most``
        samples a request at most since); written in the background."""
        field = f"{model_type}{_SEPARATOR}{model}"
        self._background(self._refuse(keys=[f"{self.prefix}:n_refused"], args=[field, most]))

    def _background(self, write: Awaitable[Any]) -> None:
        task = asyncio.get_running_loop().create_task(_quietly(write))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def pause(self, scope: str, seconds: float) -> None:
        """Pause a scope for every process (a Retry-After); written in the background."""
        task = asyncio.get_running_loop().create_task(
            self._pause(keys=[f"{self.prefix}:{scope}:pause"], args=[int(seconds * _US)])
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()


class _SharedProviderLimits(ProviderLimits):
    """`ProviderLimits` whose every request also passes the buckets in Redis."""

    def __init__(
        self,
        shared: RedisLimits,
        provider: str,
        settings: ProviderSettings,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        super().__init__(provider, settings, clock=clock, sleep=sleep)
        self._redis = shared
        self._turns: dict[str, PriorityGate] = {}

    def acquire_nowait(self, key_id: str | None) -> bool:
        """Never: every request books in Redis, through `acquire`."""
        return False

    async def acquire(
        self,
        key_id: str | None,
        tokens: int,
        *,
        max_pause_s: float | None = None,
        ticket: int = 0,
    ) -> None:
        await super().acquire(key_id, tokens, max_pause_s=max_pause_s, ticket=ticket)
        settings = self.settings
        key_scope = f"{self.provider}:{key_id or 'nokey'}"
        # No rate configured: the key's limits its replies announced (`learn`) are the
        # provider's for the key, so every process holds them together, not each alone.
        bucket = self._buckets.get(key_id)
        key_rpm, key_tpm, unbooked = settings.key_rpm, settings.key_tpm, 0
        if bucket is not None and bucket.learned_rpm is not None:
            key_rpm = bucket.learned_rpm
            # The requests sent before the limit was known (every process starts so) are
            # in the provider's window too: booked now, or the first minute goes over.
            now = self._clock()
            unbooked = sum(1 for sent in bucket.sent if now - sent <= self._redis.window_s)
            bucket.sent.clear()
        if bucket is not None and bucket.learned_tpm is not None:
            key_tpm = bucket.learned_tpm
        for scope, rpm, tpm in (
            (key_scope, key_rpm, key_tpm),
            (f"{self.provider}:all", settings.rpm, settings.tpm),
        ):
            if rpm is None and tpm is None:
                if scope == key_scope:  # a Retry-After another process met still holds
                    await self._redis.admit(scope, "rpm", None, 1)
                continue
            # Turns are handed out in the order they are booked: one booking of this
            # process waits at a time, the oldest run's first (as in `ProviderLimits`).
            turn = self._turns.get(scope)
            if turn is None:
                turn = self._turns[scope] = PriorityGate(1)
            await turn.acquire(ticket)
            try:
                if rpm is not None or scope == key_scope:
                    await self._redis.admit(scope, "rpm", rpm, 1 + (unbooked if rpm else 0))
                if tpm is not None:
                    await self._redis.admit(scope, "tpm", tpm, max(tokens, 1))
            finally:
                turn.release()

    def pause(self, key_id: str | None, seconds: float) -> None:
        super().pause(key_id, seconds)
        self._redis.pause(f"{self.provider}:{key_id or 'nokey'}", seconds)


async def _quietly(write: Awaitable[Any]) -> None:
    """A background write whose failure costs only what it would have shared."""
    try:
        await write
    except Exception:  # the server went away: limits say so on the next request
        return


def _masked_url(url: str) -> str:
    """``url`` with its password masked: the user info's (`redacted_url`) and a
    ``password=`` query option's, which redis-py reads too."""
    return _QUERY_PASSWORD.sub(rf"\1{MASK}", redacted_url(url))


_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)
