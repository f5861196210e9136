"""The call path below the components: provider lookup, keys, limits, retries.

`Dispatcher` is owned by one `Engine`; every concurrent `generate()` and batch prompt of
that engine shares its providers, connection pools, limiters and key pools. One call is:

    key lease (rotates, waits for a cooling key) -> rpm/tpm buckets of that key
    -> an in-flight slot -> provider.send (one attempt) -> on failure: classify, cool down
    or disable the key, back off, and try again within the retry policy.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import structlog

from ._config import ProviderSettings
from ._exceptions import AuthenticationError, ProviderError, RateLimitError
from ._http import retry_after_from_headers
from ._keys import KeyLease, KeyPool, KeyPoolStatistics, load_key_sets
from ._limits import LimiterStatistics, ProviderLimits, estimate_tokens
from ._registry import Registry
from ._retry import RetryPolicy
from ._types import CallRecord, ChatRequest, ChatResponse
from .core import Provider

__all__ = ["DispatchStatistics", "Dispatcher"]

log = structlog.get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DispatchStatistics:
    """A snapshot of one provider's call path: its limits and its keys."""

    limits: LimiterStatistics
    keys: KeyPoolStatistics


@dataclass(slots=True)
class _Lane:
    """Everything one model_type's calls share."""

    provider: Provider
    keys: KeyPool
    limits: ProviderLimits
    policy: RetryPolicy


class Dispatcher:
    """Makes provider calls for an engine.

    Args:
        registry: resolves a model_type to its provider.
        settings: per-model_type settings (config section merged with code overrides).
        keys: None (environment and ``.env``), a JSON key file path, or a dict such as
            ``{"OPENAI_API_KEY": ["k1", "k2"]}``.
        sleep: the async sleep used for backoff and cooldowns (tests pass a fake one).
        clock: a monotonic clock (tests pass a fake one).
        rng: the random source of backoff jitter.
        environ: the environment to read keys from (defaults to ``os.environ``).
        dotenv_path: a ``.env`` file to read keys from, or None.

    Raises:
        ConfigError: the key file cannot be read.
    """

    def __init__(
        self,
        registry: Registry,
        *,
        settings: Mapping[str, ProviderSettings] | None = None,
        keys: str | Path | Mapping[str, Any] | None = None,
        sleep: Sleep = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        environ: Mapping[str, str] | None = None,
        dotenv_path: str | Path | None = ".env",
    ) -> None:
        self._registry = registry
        self._settings = dict(settings or {})
        self._key_sets = load_key_sets(keys, environ=environ, dotenv_path=dotenv_path)
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._lanes: dict[str, _Lane] = {}

    def __repr__(self) -> str:
        return f"Dispatcher(providers={sorted(self._lanes)})"

    def settings_for(self, model_type: str) -> ProviderSettings:
        """The settings in force for a model_type."""
        return self._settings.get(model_type) or ProviderSettings()

    def statistics(self) -> dict[str, DispatchStatistics]:
        """Limits and key pools of every provider used so far, by model_type."""
        return {
            name: DispatchStatistics(lane.limits.statistics(), lane.keys.statistics())
            for name, lane in self._lanes.items()
        }

    def _lane(self, model_type: str) -> _Lane:
        lane = self._lanes.get(model_type)
        if lane is None:
            settings = self.settings_for(model_type)
            timing: dict[str, Any] = {"clock": self._clock, "sleep": self._sleep}
            lane = _Lane(
                provider=self._registry.build_provider(model_type, settings),
                keys=KeyPool.for_provider(model_type, self._key_sets, **timing),
                limits=ProviderLimits(model_type, settings, **timing),
                policy=RetryPolicy.from_settings(settings),
            )
            self._lanes[model_type] = lane
        return lane

    async def complete(self, request: ChatRequest) -> tuple[ChatResponse, CallRecord]:
        """Make one completion call, with the retries the provider's policy allows.

        Raises:
            ProviderError: the call failed (the last attempt's error).
            ConfigError: the provider is not configured (no base URL, unknown model_type).
        """
        lane = self._lane(request.model_type)
        # Only a tokens-per-minute bucket needs the estimate.
        tokens = estimate_tokens(request) if lane.limits.settings.tpm is not None else 0
        started = self._clock()
        retries = 0
        while True:
            lease = await lane.keys.acquire()
            await lane.limits.acquire(lease.key_id, tokens)
            attempt_started = time.perf_counter()
            try:
                async with lane.limits.slot():
                    response = await lane.provider.send(request, api_key=lease.value())
            except ProviderError as error:
                delay = self._after_failure(lane, lease, error, retries + 1, started)
                _log_attempt(request, lease, retries, attempt_started, error=error, retry_in=delay)
                if delay is None:
                    raise
                retries += 1
                if delay > 0:
                    await self._sleep(delay)
                continue
            self._after_success(lane, lease, response)
            latency = _log_attempt(request, lease, retries, attempt_started, response=response)
            record = CallRecord(
                model=request.model,
                provider=request.model_type,
                latency_s=latency,
                input_tokens=response.usage.input_tokens,
                output_tokens=response.usage.output_tokens,
                retries=retries,
                key_id=lease.key_id,
            )
            return response, record

    def _after_success(self, lane: _Lane, lease: KeyLease, response: ChatResponse) -> None:
        lane.keys.succeeded(lease.key_id)
        lane.limits.succeeded(lease.key_id)
        if response.headers:
            # remaining == 0 on a bucket: rest the key until its reset, before the 429.
            pause = retry_after_from_headers(response.headers)
            if pause:
                lane.limits.pause(lease.key_id, pause)

    def _after_failure(
        self, lane: _Lane, lease: KeyLease, error: ProviderError, retry: int, started: float
    ) -> float | None:
        """Update keys and limits after a failed attempt; the wait before the next, or None."""
        policy, elapsed = lane.policy, self._clock() - started
        if retry > policy.max_retries or elapsed >= policy.max_elapsed_s:
            # Out of retries; still record what the key taught us, for the calls to come.
            if isinstance(error, AuthenticationError):
                lane.keys.disable(lease.key_id)
            elif isinstance(error, RateLimitError):
                lane.keys.cool_down(lease.key_id, error.retry_after)
                lane.limits.rate_limited(lease.key_id, error.retry_after)
            return None
        if isinstance(error, AuthenticationError):
            # A refused key is dropped; another key may work, so rotate at once if any is left.
            lane.keys.disable(lease.key_id)
            has_other = lease.key_id is not None and lane.keys.statistics().disabled < len(
                lane.keys
            )
            return 0.0 if has_other else None
        if isinstance(error, RateLimitError):
            return self._after_rate_limit(lane, lease, error, retry, elapsed)
        if not policy.should_retry(error, retry, elapsed):
            return None
        return policy.delay(retry, error, self._rng)

    def _after_rate_limit(
        self, lane: _Lane, lease: KeyLease, error: RateLimitError, retry: int, elapsed: float
    ) -> float | None:
        if error.body and "insufficient_quota" in error.body:
            lane.keys.disable(lease.key_id)  # out of quota: waiting cannot help this key
            stats = lane.keys.statistics()
            return 0.0 if stats.disabled < stats.total else None
        lane.limits.rate_limited(lease.key_id, error.retry_after)
        if lease.key_id is None:
            # No key to rotate to: wait as told, or back off.
            if not lane.policy.should_retry(error, retry, elapsed):
                return None
            return lane.policy.delay(retry, error, self._rng)
        lane.keys.cool_down(lease.key_id, error.retry_after)
        if lane.keys.statistics().ready > 0:
            return 0.0  # another key is ready: rotate now
        if not lane.policy.should_retry(error, retry, elapsed):
            return None
        return 0.0  # the next lease waits for the earliest cooling key

    async def aclose(self) -> None:
        """Close every provider's connection pool."""
        lanes, self._lanes = list(self._lanes.values()), {}
        for lane in lanes:
            await lane.provider.aclose()


def _log_attempt(
    request: ChatRequest,
    lease: KeyLease,
    retries: int,
    attempt_started: float,
    *,
    response: ChatResponse | None = None,
    error: ProviderError | None = None,
    retry_in: float | None = None,
) -> float:
    """Log one attempt as one line (no key: its fingerprint at most); returns its latency."""
    latency = time.perf_counter() - attempt_started
    if response is not None and not structlog.is_configured():
        # structlog unconfigured prints every level to stdout: a line per successful call
        # would flood an application that never asked for it (failures are still logged).
        return latency
    fields: dict[str, Any] = {
        "model": request.model,
        "provider": request.model_type,
        "attempt": retries + 1,
        "latency_ms": round(latency * 1000.0, 1),
        "key_id": lease.key_id,
    }
    if response is not None:
        usage = response.usage
        log.debug(
            "provider_call", status="ok", tokens=usage.input_tokens + usage.output_tokens, **fields
        )
    elif error is not None:
        status = getattr(error, "status_code", None) or type(error).__name__
        log.warning(
            "provider_call",
            status=status,
            error=str(error),
            retry_in_s=None if retry_in is None else round(retry_in, 3),
            **fields,
        )
    return latency
