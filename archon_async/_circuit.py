"""Per-model circuit breakers: stop calling a model that keeps timing out or failing.

A proposer that never answers held a mixture-of-agents layer for every retry of every call
(17 s with ``timeout_s`` 2, about 6 minutes at the defaults) before the fuser could start.
After ``circuit_failures`` attempts on one model have timed out with no reply from it in
between, nor for a whole timeout before, the model's circuit opens: its calls in flight stop
retrying and new calls fail at once with `CircuitOpenError`, so the layer goes on with the
healthy candidates.
After ``circuit_open_s`` one trial call is let through (half-open); its success closes the
circuit, its failure opens it again. This is the classic breaker (Nygard, *Release It!*,
"Circuit Breaker"), kept per (model_type, model) since one vendor serves many models.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ._exceptions import CircuitOpenError, ProviderError, ProviderTimeoutError
from ._types import ChatRequest

__all__ = ["CircuitBreakers", "circuit_opened", "trips_circuit"]


def trips_circuit(error: ProviderError) -> bool:
    """Whether a failed attempt counts against its model's circuit: a timeout, the sign of
    a model that does not answer (a 5xx or a dropped connection is answered quickly, and
    the retry policy's backoff handles it)."""
    return isinstance(error, ProviderTimeoutError)


@dataclass(slots=True)
class _Circuit:
    failures: int = 0
    last_reply: float = float("-inf")
    open_until: float = 0.0
    trial: bool = False  # a half-open trial call is in flight


class CircuitBreakers:
    """The circuits of every model a dispatcher calls.

    Args:
        clock: a monotonic clock (tests pass a fake one).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._circuits: dict[tuple[str, str], _Circuit] = {}

    def before_attempt(self, request: ChatRequest, *, threshold: int) -> None:
        """Let an attempt go, or fail it at once while the model's circuit is open.

        Raises:
            CircuitOpenError: the circuit is open (or half-open with its trial in flight).
        """
        if threshold <= 0:
            return
        circuit = self._circuits.get((request.model_type, request.model))
        if circuit is None or circuit.failures < threshold:
            return
        left = circuit.open_until - self._clock()
        if left <= 0 and not circuit.trial:
            circuit.trial = True  # half-open: this attempt is the trial
            return
        raise CircuitOpenError(
            f"the model failed {circuit.failures} attempts in a row (timeouts, connection "
            f"errors or 5xx): its calls fail at once for {max(left, 0.0):.0f} s more, then "
            "one trial call is let through",
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
    ) -> bool:
        """Count a failed attempt; whether the model's circuit is open now.

        Args:
            request: the failed call's request (its model_type and model).
            error: the attempt's error (only timeouts count).
            threshold: timeouts since the model's last reply that open the circuit.
            open_s: how long the circuit stays open.
            quiet_s: the circuit opens only if the model has not replied for this long
                (its timeout): under load, a model that answers other calls is alive.
        """
        if threshold <= 0:
            return False
        key = (request.model_type, request.model)
        circuit = self._circuits.setdefault(key, _Circuit())
        if not trips_circuit(error):
            circuit.trial = False
            return circuit.failures >= threshold and circuit.open_until > self._clock()
        circuit.failures += 1
        circuit.trial = False
        quiet = self._clock() - circuit.last_reply >= quiet_s
        if circuit.failures >= threshold and quiet:
            circuit.open_until = self._clock() + open_s
            return True
        return False

    def succeeded(self, request: ChatRequest) -> None:
        """A reply came back: the model's circuit closes."""
        circuit = self._circuits.setdefault((request.model_type, request.model), _Circuit())
        circuit.failures, circuit.open_until, circuit.trial = 0, 0.0, False
        circuit.last_reply = self._clock()

    def open_models(self) -> list[tuple[str, str]]:
        """(model_type, model) of every circuit open now."""
        now = self._clock()
        return [key for key, c in self._circuits.items() if c.open_until > now]


def circuit_opened(request: ChatRequest, error: ProviderError) -> CircuitOpenError:
    """The error of a call whose failed attempt opened its model's circuit."""
    return CircuitOpenError(
        f"stopped retrying: the model keeps failing ({type(error).__name__}: {error}); its "
        "calls fail at once for a while, then one trial call is let through",
        provider=request.model_type,
        model=request.model,
    )
