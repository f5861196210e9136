"""Per-model circuit breakers: stop calling a model that keeps failing. The one breaker of
the library: each `Dispatcher` owns one (a call path has one dispatcher), so every call,
retried or sent through a call path to its fallbacks, meets the same circuit.

Policy, per (model_type, endpoint, model) since one vendor serves many models and one
model_type many servers: the endpoint is the base URL the request goes to (the identity the
response cache and the memory of ``n`` refusals use, `archon_async._endpoints`), so two
vLLM servers of one model and model_type have a circuit each, and one of them down leaves
the other's calls alone. Circuits live in the process: limits shared through Redis share
429 pauses, not circuits.

* What counts as a failure: an *attempt* that timed out (the sign of a model that does not
  answer), and a *call* that gave up, after its retries, on a 5xx or a broken connection
  (answered quickly, so each attempt is the retry policy's business, not the breaker's).
  A reply of any kind from the model (a success) sets the count back to 0; a refusal of
  the request (4xx) neither counts nor resets.
* The circuit opens when ``circuit_failures`` failures come in a row (`ProviderSettings`,
  default 2; 0 turns the breaker off) and the model has not answered any call for a whole
  ``timeout_s`` either: a model that answers other calls is alive (timeouts under load, a
  5xx that only some prompts meet), and its failing calls are the retry policy's and the
  fallbacks' business.
* While open, for ``circuit_open_s`` (default 30 s): the model's calls in flight stop
  retrying, and new calls fail at once, without a request, with `CircuitOpenError`; a
  component with ``unavailable`` fallbacks moves to them (`archon_async.callpath`).
* Then one trial call is let through (half-open): its success closes the circuit, its
  failure opens it again; a trial that ends with neither (cancelled, or failed before its
  request was sent) lets the next call be the trial (`trial_abandoned`).
* The circuit keeps the start tickets (`archon_async._admission`) of the runs whose
  failures are in its row (`culprits`): a batch does not take a circuit opened by one
  prompt's failures alone for its provider's outage (`archon_async._batch_outage`).

A proposer that never answers would otherwise hold a mixture-of-agents layer for every
retry of every call (17 s with ``timeout_s`` 2, about 6 minutes at the defaults) before the
fuser could start. This is the classic breaker (Nygard, *Release It!*, "Circuit Breaker").
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ._admission import current_ticket
from ._exceptions import (
    CircuitOpenError,
    ProviderConnectionError,
    ProviderError,
    ProviderServerError,
    ProviderTimeoutError,
)
from ._redact import redacted_url
from ._types import ChatRequest

__all__ = [
    "CircuitBreakers",
    "CircuitKey",
    "circuit_key",
    "circuit_opened",
    "endpoint_words",
    "trips_circuit",
]

#: A circuit's identity: (model_type, endpoint, model).
CircuitKey = tuple[str, str, str]


def circuit_key(request: ChatRequest, endpoint: str | None = None) -> CircuitKey:
    """The circuit of ``request``: its model_type, ``endpoint`` (None: its own base URL,
    else its model_type) and model."""
    where = endpoint if endpoint is not None else request.base_url or request.model_type
    return request.model_type, where, request.model


def endpoint_words(circuit: CircuitKey) -> str:
    """`` at URL`` naming a circuit's endpoint (its password masked) for messages; "" for
    a provider with no base URL, whose endpoint is its model_type."""
    model_type, endpoint, _ = circuit
    return "" if endpoint == model_type else f" at {redacted_url(endpoint)}"


def trips_circuit(error: ProviderError, *, gave_up: bool) -> bool:
    """Whether a failed attempt counts against its model's circuit: a timeout always; a
    5xx or broken connection when the call gives up on it (``gave_up``)."""
    if isinstance(error, ProviderTimeoutError):
        return True
    if isinstance(error, CircuitOpenError):
        return False  # no request was sent: nothing new is known of the model
    return gave_up and isinstance(error, ProviderServerError | ProviderConnectionError)


@dataclass(slots=True)
class _Circuit:
    failures: int = 0
    last_reply: float = float("-inf")
    open_until: float = 0.0
    trial: bool = False  # a half-open trial call is in flight
    culprits: set[int] = field(default_factory=set)  # the failures' runs (their tickets)


class CircuitBreakers:
    """The circuits of every model a dispatcher calls (the policy is the module's).

    Args:
        clock: a monotonic clock (tests pass a fake one).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._circuits: dict[CircuitKey, _Circuit] = {}

    def before_attempt(
        self, request: ChatRequest, *, threshold: int, endpoint: str | None = None
    ) -> bool:
        """Let an attempt go, or fail it at once while the model's circuit is open; whether
        the attempt is the half-open circuit's trial (its caller then reports how it ended:
        `failed`, `succeeded`, or `trial_abandoned`).

        ``endpoint``: where the request goes (`circuit_key`; the dispatcher passes the
        base URL its provider resolves).

        Raises:
            CircuitOpenError: the circuit is open (or half-open with its trial in flight).
        """
        if threshold <= 0:
            return False
        # `circuit_key` spelled out: a function call less on every attempt.
        where = endpoint if endpoint is not None else request.base_url or request.model_type
        key = (request.model_type, where, request.model)
        circuit = self._circuits.get(key)
        if circuit is None or circuit.failures < threshold:
            return False
        left = circuit.open_until - self._clock()
        if left <= 0 and not circuit.trial:
            circuit.trial = True  # half-open: this attempt is the trial
            return True
        # Rounded up: "0 s more" read as a circuit about to close while it was open.
        wait = (
            f"for {math.ceil(left)} s more, then one trial call is let through"
            if left > 0
            else "until its trial call, in flight, ends"
        )
        raise CircuitOpenError(
            f"not called: its circuit{endpoint_words(key)} is open, its last "
            f"{circuit.failures} attempts there failed (timeouts, or 5xx or broken "
            f"connections after their retries); its calls fail at once {wait}",
            provider=request.model_type,
            model=request.model,
        )

    def failed(
        self,
        request: ChatRequest,
        error: ProviderError,
        *,
        threshold: int,
        open_s: float,
        quiet_s: float = 0.0,
        gave_up: bool = False,
        endpoint: str | None = None,
    ) -> bool:
        """Count a failed attempt; whether the model's circuit is open now.

        Args:
            request: the failed call's request (its model_type and model).
            error: the attempt's error (see `trips_circuit` for those that count).
            threshold: failures in a row that open the circuit (0: the breaker is off).
            open_s: how long the circuit stays open.
            quiet_s: the circuit opens only if the model has not replied for this long
                (its timeout): a model that answers other calls is alive.
            gave_up: the call gives up after this attempt (no retry follows).
            endpoint: where the request went (see `before_attempt`).
        """
        if threshold <= 0:
            return False
        circuit = self._circuits.setdefault(circuit_key(request, endpoint), _Circuit())
        circuit.trial = False
        if not trips_circuit(error, gave_up=gave_up):
            return circuit.failures >= threshold and circuit.open_until > self._clock()
        circuit.failures += 1
        circuit.culprits.add(current_ticket.get())
        quiet = self._clock() - circuit.last_reply >= quiet_s
        if circuit.failures >= threshold and quiet:
            circuit.open_until = self._clock() + open_s
            return True
        return False

    def trial_abandoned(self, request: ChatRequest, endpoint: str | None = None) -> None:
        """The trial attempt ended with no word from the model (cancelled, or failed before
        its request was sent): the circuit stays half-open, its next call the trial."""
        circuit = self._circuits.get(circuit_key(request, endpoint))
        if circuit is not None:
            circuit.trial = False

    def succeeded(self, request: ChatRequest, endpoint: str | None = None) -> None:
        """A reply came back: the model's circuit closes."""
        # `circuit_key` spelled out: every call comes here.
        where = endpoint if endpoint is not None else request.base_url or request.model_type
        circuit = self._circuits.setdefault((request.model_type, where, request.model), _Circuit())
        circuit.failures, circuit.open_until, circuit.trial = 0, 0.0, False
        circuit.last_reply = self._clock()
        if circuit.culprits:
            circuit.culprits.clear()

    def reopens_in(self, key: CircuitKey) -> float | None:
        """Seconds until the circuit (model_type, endpoint, model) lets its trial call
        through (0: now, or its trial is in flight); None: the circuit is closed (it never
        opened, or the model answered there since)."""
        circuit = self._circuits.get(key)
        if circuit is None or not circuit.open_until:  # 0.0 until it opens, and once closed
            return None
        return max(circuit.open_until - self._clock(), 0.0)

    def culprits(self, key: CircuitKey) -> frozenset[int]:
        """The start tickets of the runs whose failures are the circuit's row (since the
        model last answered there): one prompt's alone says nothing of its provider."""
        circuit = self._circuits.get(key)
        return frozenset() if circuit is None else frozenset(circuit.culprits)

    def open_models(self) -> list[CircuitKey]:
        """(model_type, endpoint, model) of every circuit open now."""
        now = self._clock()
        return [key for key, c in self._circuits.items() if c.open_until > now]


def circuit_opened(
    request: ChatRequest, error: ProviderError, endpoint: str | None = None
) -> CircuitOpenError:
    """The error of a call whose failed attempt opened its model's circuit (at
    ``endpoint``, see `circuit_key`)."""
    where = endpoint_words(circuit_key(request, endpoint))
    return CircuitOpenError(
        f"stopped retrying: the model keeps failing{where} ({type(error).__name__}: "
        f"{error}); its calls there fail at once for a while, then one trial call is let "
        "through",
        provider=request.model_type,
        model=request.model,
    )
