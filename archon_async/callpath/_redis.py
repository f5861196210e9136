"""`RedisLimits`: rpm/tpm buckets and 429 cooldowns shared by processes through Redis.

Several processes (a search's workers, a service's replicas) on one key must together stay
under the provider's limit. Each process keeps its own `ProviderLimits` (in-flight caps,
learned limits, slowed keys); on top of them every request also takes its turn in buckets
kept in Redis, one per scope: the provider as a whole (``rpm``/``tpm``) and each key
(``key_rpm``/``key_tpm``). A 429 that says when to come back pauses the scope for every
process. Keys are named by fingerprint only: no secret reaches Redis.

A bucket is GCRA (the generic cell rate algorithm, as in ATM traffic shaping and the
redis-cell module) with reservations: Redis keeps the bucket's theoretical arrival time,
and one Lua script, run atomically on Redis's own clock, books the request's turn and says
how many microseconds away it is; the process sleeps that long and sends. One round trip a
request, no retry storm, and no process's clock matters. The buckets fill at ``headroom``
(0.95) of the configured rate with no burst, so that requests jittered on the way still
stay under a limit counted over a sliding window. Requires the ``redis`` extra
(``pip install 'archon-async[redis]'``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from .._config import ProviderSettings
from .._exceptions import ConfigError
from .._limits import ProviderLimits

__all__ = ["RedisLimits"]

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
# A request woken later than this fraction of the bucket's interval books another turn.
_LATE = 0.5


class RedisLimits:
    """Limits shared through a Redis server, for `CallPath(shared_limits=...)`.

    Args:
        url: the Redis server, e.g. ``redis://127.0.0.1:6379/0``.
        prefix: the prefix of every Redis key (one per fleet sharing the limits).
        headroom: the fraction of each configured rate the buckets fill at.

    Raises:
        ConfigError: the ``redis`` package is not installed.
    """

    def __init__(self, url: str, *, prefix: str = "archon", headroom: float = 0.95) -> None:
        try:
            import redis.asyncio
        except ImportError:
            raise ConfigError(
                "limits shared through Redis need the redis client: "
                "pip install 'archon-async[redis]'"
            ) from None
        self.url = url
        self.prefix = prefix
        self.headroom = headroom
        self._client: Any = redis.asyncio.from_url(url)
        self._admit = self._client.register_script(_ADMIT)
        self._pause = self._client.register_script(_PAUSE)
        self._tasks: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        return f"RedisLimits(prefix={self.prefix!r})"

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

    async def admit(self, scope: str, kind: str, per_minute: float | None, cost: float) -> None:
        """Take the next turn of a shared bucket (``kind`` ``rpm`` or ``tpm``) for ``cost``
        units, and wait for it; with no rate, wait out the scope's pause only.

        A turn is reserved in Redis at once and then waited for (the script returns when
        it falls), so each request makes one round trip whatever the crowd.
        """
        interval = 60.0 * _US / (per_minute * self.headroom) if per_minute else 0.0
        keys = [f"{self.prefix}:{scope}:{kind}", f"{self.prefix}:{scope}:pause"]
        while True:
            wait_us = int(await self._admit(keys=keys, args=[interval, cost]))
            if wait_us <= 0:
                return
            due = time.monotonic() + wait_us / _US
            await anyio.sleep(wait_us / _US)
            # Woken late (a busy loop, a starved process), the turn has passed and the
            # next one is someone else's: sending now would double up on it, so book again.
            if not interval or (time.monotonic() - due) * _US <= interval * _LATE:
                return

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

    async def acquire(
        self, key_id: str | None, tokens: int, *, max_pause_s: float | None = None
    ) -> None:
        await super().acquire(key_id, tokens, max_pause_s=max_pause_s)
        settings = self.settings
        key_scope = f"{self.provider}:{key_id or 'nokey'}"
        for scope, rpm, tpm in (
            (key_scope, settings.key_rpm, settings.key_tpm),
            (f"{self.provider}:all", settings.rpm, settings.tpm),
        ):
            # The key's pause (a Retry-After another process met) holds even with no rate.
            if rpm is not None or scope == key_scope:
                await self._redis.admit(scope, "rpm", rpm, 1)
            if tpm is not None:
                await self._redis.admit(scope, "tpm", tpm, max(tokens, 1))

    def pause(self, key_id: str | None, seconds: float) -> None:
        super().pause(key_id, seconds)
        self._redis.pause(f"{self.provider}:{key_id or 'nokey'}", seconds)
