"""The call path below the components: provider lookup, keys, limits, retries.

`Dispatcher` is owned by one `CallPath` (see `archon_async.callpath`); every engine,
`generate()` and batch prompt on that call path shares its providers, connection pools,
limiters and key pools. One call is:

    admission (the provider's one gate: at most ``max_concurrency`` calls, the oldest run's
    first, held until the call ends) -> key lease (rotates, waits for a cooling key) ->
    rpm/tpm buckets of that key and of the provider -> provider.send (one attempt) -> on
    failure: classify, cool down or disable the key, rotate or back off, and try again
    within the retry policy.

Keys behind one organisation share its limit, so a 429 on one key is often a 429 on all:
moving on to a ready key is free once per other key, and each round over the keys that ends
with every key cooling charges one retry of the policy, whose budget and time cap bound the
call. A call that fails carries its `CallRecord` on the error, for the trace.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio

from ._circuit import CircuitBreakers, CircuitKey, circuit_opened
from ._config import ProviderSettings
from ._endpoints import endpoint_identity
from ._exceptions import (
    AuthenticationError,
    ConfigError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    RateLimitResetError,
)
from ._http import retry_after_from_headers
from ._keys import (
    KeyLease,
    KeyOrigins,
    KeyPool,
    KeyPoolStatistics,
    check_required_keys,
    key_variables,
    load_key_sets,
)
from ._limits import LimiterStatistics, ProviderLimits, estimate_tokens
from ._logging import get_logger
from ._registry import Registry
from ._retry import RetryPolicy, is_out_of_quota, limit_reset_error, most_allowed, refuses_n
from ._streaming import StreamSink, claim_stream_sink, send_for_sink
from ._types import CallRecord, ChatRequest, ChatResponse
from .core import Provider

__all__ = ["DispatchStatistics", "Dispatcher"]

log = get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DispatchStatistics:
    """A snapshot of one provider's call path: its limits and its keys."""

    limits: LimiterStatistics
    keys: KeyPoolStatistics


Next = Literal["rotate_key", "wait_for_key", "backoff", "give_up"]


@dataclass(frozen=True, slots=True)
class _Step:
    """What a call does after a failed attempt.

    Attributes:
        next: rotate to a ready key, wait for a cooling key, back off, or give up.
        wait_s: how long the call expects to wait before its next attempt (None: no next).
        sleep_s: the part of it the dispatcher sleeps (a key wait happens in the lease).
        error: what to raise when giving up.
    """

    next: Next
    wait_s: float | None = 0.0
    sleep_s: float = 0.0
    error: ProviderError | None = None


# A call told to wait (Retry-After) comes back within this fraction after the wait.
_TOLD_WAIT_SPREAD = 0.25
# Waits for keys and rate limits at least this long are logged (shorter ones are pacing).
_LOGGED_WAIT_S = 1.0


def _told_wait(policy: RetryPolicy, error: ProviderError, spent: _Spent, elapsed: float) -> bool:
    """Whether a 429 that said when to come back is waited out without costing a retry."""
    told = isinstance(error, RateLimitError) and error.retry_after is not None
    if not told or spent.told_waits >= policy.max_told_waits:
        return False
    if not policy.should_retry(error, 1, elapsed):  # too long a wait, or out of time
        return False
    spent.told_waits += 1
    return True


@dataclass(slots=True)
class _Spent:
    """What one call has spent: attempts, retries charged to the policy, free rotations."""

    started: float
    attempts: int = 0
    charged: int = 0
    rotations: int = 0
    told_waits: int = 0
    latency_s: float = 0.0
    key_id: str | None = None
    wait_s: float = 0.0
    timeouts: int = 0


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One attempt of a call, as its failure is handled: the key it used, when it started,
    the stream sink of the call (None unless streamed out), the provider's settings and
    the endpoint the request went to (its circuit's)."""

    lease: KeyLease
    started: float
    sink: StreamSink | None
    settings: ProviderSettings
    endpoint: str


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

    #: Builds each provider's limits (`ProviderLimits`; the call path puts limits shared
    #: through Redis here, see `archon_async.callpath.RedisLimits`).
    limits_factory: Callable[..., ProviderLimits] = ProviderLimits

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
        self._key_origins: KeyOrigins = {}  # where each key was read, for check_keys
        self._key_sets = load_key_sets(
            keys, environ=environ, dotenv_path=dotenv_path, origins=self._key_origins
        )
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._lanes: dict[str, _Lane] = {}
        self._circuits = CircuitBreakers(clock=clock)
        # Each (model_type, request's base_url)'s endpoint identity: its circuit's.
        self._endpoints: dict[tuple[str, str | None], str] = {}

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

    def circuit_reopens_in(self, circuit: CircuitKey) -> float | None:
        """Seconds until the open circuit (model_type, endpoint, model) lets a trial call
        through (0: now); None: it is closed (see `archon_async._circuit`; a failed call's
        error names its circuit's endpoint in ``endpoint``)."""
        return self._circuits.reopens_in(circuit)

    def circuit_culprits(self, circuit: CircuitKey) -> frozenset[int]:
        """The start tickets of the runs whose failures opened the circuit (model_type,
        endpoint, model), since the model last answered there."""
        return self._circuits.culprits(circuit)

    def endpoint_of(self, request: ChatRequest) -> str:
        """Where ``request`` goes (`endpoint_identity`: the base URL its provider resolves,
        else its model_type), worked out once per model_type and request base URL (the
        provider's settings and environment are fixed)."""
        where = (request.model_type, request.base_url)
        endpoint = self._endpoints.get(where)
        if endpoint is None:
            try:
                provider = self._lane(request.model_type).provider
                endpoint = endpoint_identity(provider, request, None)
            except ConfigError:  # no base URL anywhere: the send says so
                endpoint = request.model_type
            self._endpoints[where] = endpoint
        return endpoint

    def add_settings(self, model_type: str, settings: ProviderSettings) -> None:
        """Use ``settings`` for a model_type told nothing yet (settings given first win)."""
        self._settings.setdefault(model_type, settings)

    def provider_for(self, model_type: str) -> Provider:
        """The provider serving a model_type (built on first use).

        Raises:
            ConfigError: no provider is registered for it.
        """
        return self._lane(model_type).provider

    def _lane(self, model_type: str) -> _Lane:
        lane = self._lanes.get(model_type)
        if lane is None:
            settings = self.settings_for(model_type)
            timing: dict[str, Any] = {"clock": self._clock, "sleep": self._sleep}
            lane = _Lane(
                provider=self._registry.build_provider(model_type, settings),
                keys=KeyPool.for_provider(model_type, self._key_sets, **timing),
                limits=self.limits_factory(model_type, settings, **timing),
                policy=RetryPolicy.from_settings(settings),
            )
            self._lanes[model_type] = lane
        return lane

    def check_keys(self, model_types: Iterable[str], *, source: str | None = None) -> None:
        """Fail now, before any call, if a hosted provider among ``model_types`` has no key.

        Raises:
            ConfigError: names the model_type, the variables to set and the other ways.
        """
        check_required_keys(model_types, self._key_sets, source=source, origins=self._key_origins)

    def has_keys(self, model_type: str) -> bool:
        """Whether ``model_type``'s calls carry a key (one of its variables holds one)."""
        return any(self._key_sets.get(name) for name in key_variables(model_type))

    async def complete(
        self, request: ChatRequest, ticket: int = 0
    ) -> tuple[ChatResponse, CallRecord]:
        """Make one completion call, with the retries the provider's policy allows.

        ``ticket``: the start ticket of the run the call belongs to; at a full gate, the
        lowest is admitted first (see `PriorityGate`).

        Raises:
            ProviderError: the call failed (the last attempt's error, or a
                KeyPoolExhaustedError chained from the error that spent the last key); its
                ``call_record`` holds the attempts made, if any.
            ConfigError: the provider is not configured (no base URL, unknown model_type).
        """
        lane = self._lane(request.model_type)
        # Only a tokens-per-minute bucket needs the estimate.
        tokens = estimate_tokens(request) if lane.limits.counts_tokens else 0
        spent = _Spent(started=self._clock())
        sink = claim_stream_sink()  # None except for the call whose text is streamed out
        settings = self.settings_for(request.model_type)
        endpoint = self.endpoint_of(request)
        gate = lane.limits.gate
        if not gate.acquire_nowait():  # a free place needs no coroutine
            await gate.acquire(ticket)  # cancelled here, it holds nothing
        trial = False  # the attempt under way is its half-open circuit's trial, unjudged
        try:
            while True:
                trial = self._circuits.before_attempt(
                    request, threshold=settings.circuit_failures, endpoint=endpoint
                )
                # A ready key that nothing paces goes at once: no coroutine, no wait timed.
                lease = lane.keys.acquire_nowait()
                if lease is None or not lane.limits.acquire_nowait(lease.key_id):
                    lease = await self._wait_for_limits(lane, request, tokens, spent, ticket, lease)
                attempt_started = time.perf_counter()
                try:
                    response = await send_for_sink(lane.provider, request, lease.value(), sink)
                except ProviderError as error:
                    trial = False  # judged by `_attempt_failed`
                    # Raises to give up; else how long to sleep before the next attempt.
                    attempt = _Attempt(lease, attempt_started, sink, settings, endpoint)
                    sleep_s = self._attempt_failed(lane, request, attempt, error, spent)
                    if sleep_s > 0:
                        await self._sleep(sleep_s)
                    continue
                trial = False
                self._circuits.succeeded(request, endpoint)
                spent.latency_s = _log_attempt(
                    request, lease, spent.attempts, attempt_started, response=response
                )
                return response, self._succeeded(lane, lease, request, response, spent)
        except ProviderError as error:
            error.endpoint = endpoint  # whose circuit (`down_model`)
            if spent.attempts or spent.wait_s:
                error.call_record = _failed_record(request, spent, error)
            raise
        finally:
            gate.release()
            if trial:  # cancelled, or failed waiting for its key: the next call is the trial
                self._circuits.trial_abandoned(request, endpoint)

    def _attempt_failed(
        self,
        lane: _Lane,
        request: ChatRequest,
        attempt: _Attempt,
        error: ProviderError,
        spent: _Spent,
    ) -> float:
        """Learn from a failed attempt and log it; the seconds to sleep before the next.

        Raises:
            ProviderError: the call gives up (``error``, a `RateLimitResetError` chained
                from a 429 whose reset is past what a call may wait, or the error of a key
                pool exhausted or a circuit opened, chained from ``error``).
        """
        # The provider's frames hold the key (its argument, the auth header): the error
        # leaves them behind, so that no traceback printed with its locals (pytest -l,
        # rich, Sentry) can show it.
        error.with_traceback(None)
        lease, sink, settings = attempt.lease, attempt.sink, attempt.settings
        spent.attempts += 1
        spent.timeouts += isinstance(error, ProviderTimeoutError)
        spent.key_id = lease.key_id
        step = self._after_failure(lane, lease, error, spent)
        streamed = sink is not None and sink.started
        opened = self._circuits.failed(
            request,
            error,
            threshold=settings.circuit_failures,
            open_s=settings.circuit_open_s,
            quiet_s=settings.timeout_s,
            gave_up=step.error is not None or streamed,
            endpoint=attempt.endpoint,
        )
        if opened and step.error is None:
            # The model keeps failing: the layer goes on without this call.
            opened_error = circuit_opened(request, error, attempt.endpoint)
            step = _Step("give_up", None, error=opened_error)
        spent.latency_s = _log_attempt(
            request, lease, spent.attempts - 1, attempt.started, error=error, step=step
        )
        # Text already streamed out cannot be taken back: no retry after it.
        if step.error is error or streamed:
            reset = _past_reset(lane, error)
            if reset is None:
                raise error
            raise reset from error
        if step.error is not None:
            raise step.error from error
        return step.sleep_s

    async def _wait_for_limits(
        self,
        lane: _Lane,
        request: ChatRequest,
        tokens: int,
        spent: _Spent,
        ticket: int = 0,
        lease: KeyLease | None = None,
    ) -> KeyLease:
        """A key (``lease``, or the next one ready), once it and the provider's rate buckets
        allow one more request.

        A wait that is a reset far away (a key cooling or paused for longer than the policy
        lets a call wait) fails the call at once with `RateLimitResetError`, instead of
        holding it, and every call behind it, silently. The time waited goes into the
        call's record, and a long one into the log, so that a slow call says why.
        """
        longest = lane.policy.max_retry_after_s
        started = self._clock()
        if lease is None:
            lease = await lane.keys.acquire(max_wait_s=longest)
        await lane.limits.acquire(lease.key_id, tokens, max_pause_s=longest, ticket=ticket)
        waited = self._clock() - started
        spent.wait_s += waited
        if waited >= _LOGGED_WAIT_S:
            log.info(
                "rate_limit_wait",
                provider=request.model_type,
                model=request.model,
                key_id=lease.key_id,
                wait_s=round(waited, 3),
            )
        return lease

    def _succeeded(
        self,
        lane: _Lane,
        lease: KeyLease,
        request: ChatRequest,
        response: ChatResponse,
        spent: _Spent,
    ) -> CallRecord:
        """Let keys and limits learn from a success; the call's record."""
        lane.keys.succeeded(lease.key_id)
        lane.limits.succeeded(lease.key_id)
        if response.headers:
            lane.limits.learn(lease.key_id, response.headers)
            # remaining == 0 on a bucket: rest the key until its reset, before the 429; the
            # pool hands out another key meanwhile, if one is ready.
            pause = retry_after_from_headers(response.headers)
            if pause:
                lane.limits.pause(lease.key_id, pause)
                lane.keys.rest(lease.key_id, pause)
        return CallRecord(
            model=request.model,
            provider=request.model_type,
            latency_s=spent.latency_s,
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            retries=spent.attempts,
            key_id=lease.key_id,
            wait_s=round(spent.wait_s, 6),
            finish_reason=response.finish_reason,
            timeouts=spent.timeouts,
        )

    def _after_failure(
        self, lane: _Lane, lease: KeyLease, error: ProviderError, spent: _Spent
    ) -> _Step:
        """Update keys and limits after a failed attempt; what the call does next."""
        elapsed = self._clock() - spent.started
        refused = isinstance(error, AuthenticationError) or is_out_of_quota(error)
        if refused and lease.key_id is not None:
            return self._drop_key(lane, lease, error, elapsed)
        if isinstance(error, RateLimitError):
            if error.headers:
                lane.limits.learn(lease.key_id, error.headers)
            lane.limits.rate_limited(lease.key_id, error.retry_after)
            if lease.key_id is not None:
                return self._after_key_rate_limited(lane, lease, error, spent, elapsed)
        return self._backoff(lane, error, spent, elapsed)

    def _drop_key(
        self, lane: _Lane, lease: KeyLease, error: ProviderError, elapsed: float
    ) -> _Step:
        # Waiting cannot bring back a refused or spent key. Moving on is not charged to the
        # retries: each key can be dropped once, so the pool's size bounds it.
        lane.keys.disable(lease.key_id)
        wait = lane.keys.wait_s()
        if wait is None:
            return _Step("give_up", None, error=_exhausted(lane.keys, error))
        if elapsed >= lane.policy.max_elapsed_s:
            return _Step("give_up", None, error=error)
        return _Step("rotate_key" if wait == 0 else "wait_for_key", wait)

    def _after_key_rate_limited(
        self, lane: _Lane, lease: KeyLease, error: RateLimitError, spent: _Spent, elapsed: float
    ) -> _Step:
        lane.keys.cool_down(lease.key_id, error.retry_after)
        wait = lane.keys.wait_s() or 0.0  # this key is live, so never None
        free = spent.rotations < len(lane.keys) - 1 and elapsed < lane.policy.max_elapsed_s
        if wait == 0 and free:
            spent.rotations += 1
            return _Step("rotate_key", 0.0)
        spent.rotations = 0
        if _told_wait(lane.policy, error, spent, elapsed):
            # Many calls waiting out the same cooldown would all come back at once and
            # mostly meet another 429: each comes back at a random point of a later span.
            spread = wait * (1.0 + _TOLD_WAIT_SPREAD * self._rng.random())
            return _Step("wait_for_key", spread, sleep_s=spread)
        # No key is ready, or every key has had its turn: this round costs one retry.
        spent.charged += 1
        if not lane.policy.should_retry(error, spent.charged, elapsed):
            return _Step("give_up", None, error=error)
        if wait > 0:
            return _Step("wait_for_key", wait)  # the next lease waits for the earliest key
        delay = lane.policy.delay(spent.charged, error, self._rng)
        return _Step("backoff", delay, sleep_s=delay)

    def _backoff(self, lane: _Lane, error: ProviderError, spent: _Spent, elapsed: float) -> _Step:
        if _told_wait(lane.policy, error, spent, elapsed):
            delay = lane.policy.delay(1, error, self._rng)
            delay *= 1.0 + _TOLD_WAIT_SPREAD * self._rng.random()
            return _Step("backoff", delay, sleep_s=delay)
        spent.charged += 1
        if not lane.policy.should_retry(error, spent.charged, elapsed):
            return _Step("give_up", None, error=error)
        delay = lane.policy.delay(spent.charged, error, self._rng)
        return _Step("backoff", delay, sleep_s=delay)

    async def aclose(self) -> None:
        """Close every provider's connection pool."""
        lanes, self._lanes = list(self._lanes.values()), {}
        for lane in lanes:
            await lane.provider.aclose()


def _exhausted(keys: KeyPool, error: ProviderError) -> ProviderError:
    """The error of the call that disabled the last usable key of a pool."""
    status = getattr(error, "status_code", None)
    if isinstance(error, AuthenticationError):
        why = f"was refused (HTTP {status}); check the keys given"
    else:
        why = f"is out of quota or credit (HTTP {status}); top up its account"
    return keys.exhausted_error(
        f"all {len(keys)} keys are exhausted: the last usable one {why}, or give another key"
    )


def _past_reset(lane: _Lane, error: ProviderError) -> RateLimitResetError | None:
    """A 429 whose Retry-After is longer than a call may wait, as a `RateLimitResetError`
    (which stops a batch: every prompt would wait as long); None for any other error."""
    longest = lane.policy.max_retry_after_s
    if isinstance(error, RateLimitResetError) or not isinstance(error, RateLimitError):
        return None
    if error.retry_after is None or error.retry_after <= longest:
        return None
    return limit_reset_error(
        error.provider, error.retry_after, key_id=None, model=error.model, longest_s=longest
    )


def _failed_record(request: ChatRequest, spent: _Spent, error: ProviderError) -> CallRecord:
    """The trace's record of a call that failed after ``spent.attempts`` attempts (a reply
    without text for a reason still counts the tokens the provider billed for it)."""
    return CallRecord(
        model=request.model,
        provider=request.model_type,
        latency_s=spent.latency_s,
        input_tokens=getattr(error, "input_tokens", 0),
        output_tokens=getattr(error, "output_tokens", 0),
        retries=max(spent.attempts - 1, 0),
        key_id=spent.key_id,
        error=f"{type(error).__name__}: {error}",
        wait_s=round(spent.wait_s, 6),
        finish_reason=getattr(error, "finish_reason", None),
        timeouts=spent.timeouts,
    )


def _log_attempt(
    request: ChatRequest,
    lease: KeyLease,
    retries: int,
    attempt_started: float,
    *,
    response: ChatResponse | None = None,
    error: ProviderError | None = None,
    step: _Step | None = None,
) -> float:
    """Log one attempt as one line (no key: its fingerprint at most); returns its latency."""
    latency = time.perf_counter() - attempt_started
    if response is not None and not log.enabled_for(logging.DEBUG):
        # A line per successful call costs CPU on the hot path: built only when kept.
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
    elif error is not None and step is not None:
        status = getattr(error, "status_code", None) or type(error).__name__
        fallback = _n_fallback(request, error, step)
        # ``next`` says what the call does now, ``retry_in_s`` how long it expects to wait
        # for it, whether it sleeps a backoff or waits in the key pool for a cooling key.
        # A refusal of ``n`` is the call path's expected fallback, not a failure: INFO.
        (log.warning if fallback is None else log.info)(
            "provider_call",
            status=status,
            error=str(error),
            next=fallback or step.next,
            retry_in_s=None if step.wait_s is None else round(step.wait_s, 3),
            **fields,
        )
    return latency


def _n_fallback(request: ChatRequest, error: ProviderError, step: _Step) -> str | None:
    """What the call path does when a request of several samples (``n`` > 1, which only its
    `Sender` asks) gives up on a refusal of ``n``: draws them again, in requests of the most
    the refusal states (``smaller_requests``) or one a sample (``separate_requests``), as
    `Sender._draw_n` does. None for any other give-up, or a step that is no give-up."""
    if request.n <= 1 or step.error is not error or not refuses_n(error):
        return None
    stated = most_allowed(error)
    return (
        "smaller_requests" if stated is not None and 1 < stated < request.n else "separate_requests"
    )
