"""A batch against a provider that is down: hold the prompts, probe, resume or stop.

A model whose circuit is open (`archon_async._circuit`: repeated timeouts, 5xx or broken
connections) fails every call at once, so a batch used to write a `CircuitOpenError` line for
each of its remaining prompts within seconds. Instead, a prompt that failed only because its
model's provider is down (every leaf of its failure a timeout, broken connection, 5xx or open
circuit, with that model's circuit open now) is not written; while the circuit is open no
prompt starts. When the circuit lets its trial call through (half-open), one prompt goes as
the probe: if the model answers, the circuit closes and every held prompt goes on; if not,
the circuit opens again and the batch waits again. Down for longer than ``wait_s`` (counted
from the first failure the outage caused), the batch stops starting prompts: those in flight
finish, the held ones are not written (the rerun on the same output answers them), and
`BatchStoppedError` says the provider was down.

A circuit opened by one prompt's failures alone (a prompt the model times out on, at
concurrency 1 or while nothing else calls the model) says nothing of the provider: that
prompt's failure is its own and written, as any other, and the prompts after it meet the
open circuit, are held, and one of them is the trial call after the cooldown. Held, that
prompt was the probe of every trial and failed each, so one prompt cost the whole
``wait_s`` and stopped the batch as if the provider were down.

A component with ``unavailable`` fallbacks never gets here: its prompt is answered by the
fallback and does not fail.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Literal

from ._circuit import CircuitKey, endpoint_words
from ._exceptions import (
    InvalidInputError,
    ProviderConnectionError,
    ProviderError,
    ProviderServerError,
)
from ._logging import get_logger

__all__ = ["DEFAULT_WAIT_S", "ProviderOutage", "check_wait", "down_model"]

log = get_logger(__name__)

#: How long a batch waits by default for a provider that is down before it stops: ten
#: minutes, twenty trials at the circuit's default 30 s.
DEFAULT_WAIT_S = 600.0

#: Seconds until an open circuit (model_type, endpoint, model) lets its trial through
#: (0: now); None: closed.
ReopensIn = Callable[[CircuitKey], "float | None"]
#: The start tickets of the runs whose failures opened a circuit.
Culprits = Callable[[CircuitKey], frozenset[int]]


def check_wait(wait_s: object) -> None:
    """Refuse a ``provider_down_wait_s`` that is not a number of seconds of at least 0
    (a bool, a string and NaN included), before any prompt starts.

    Raises:
        InvalidInputError: naming the argument and what to pass.
    """
    if isinstance(wait_s, bool) or not (isinstance(wait_s, int | float) and wait_s >= 0):
        raise InvalidInputError(
            f"provider_down_wait_s must be a number of seconds of at least 0, not {wait_s!r}"
        )


def down_model(
    error: BaseException, reopens_in: ReopensIn, culprits: Culprits, ticket: int
) -> CircuitKey | None:
    """The circuit (model_type, endpoint, model) whose provider is down, if that alone
    failed the prompt of start ticket ``ticket``: every leaf of ``error`` is a timeout,
    broken connection, 5xx or open circuit, and one of their circuits is open now, opened
    not by this prompt's failures alone (``culprits``). None for any other failure (a bad
    request, a parse error, a model that answered since, a model failing this prompt
    only): that one is the prompt's own, and written."""
    leaves = _leaves(error)
    if not leaves or not all(
        isinstance(leaf, ProviderConnectionError | ProviderServerError) for leaf in leaves
    ):
        return None
    for leaf in leaves:
        assert isinstance(leaf, ProviderError)
        circuit = (leaf.provider, leaf.endpoint or leaf.provider, leaf.model)
        if reopens_in(circuit) is not None and culprits(circuit) != {ticket}:
            return circuit
    return None


def _leaves(error: BaseException) -> list[BaseException]:
    """The failures under ``error``: a group's leaves, and the provider error a component's
    error was raised from."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    if not isinstance(error, ProviderError) and error.__cause__ is not None:
        return _leaves(error.__cause__)
    return [error]


class ProviderOutage:
    """The batch's view of a provider that is down (see the module's docstring).

    Args:
        reopens_in: the dispatcher's `circuit_reopens_in`.
        wait_s: how long the batch waits for the provider before it stops.
        stopped: whether the batch stopped for another reason (a held prompt then waits no
            more than the probe in flight).
        clock: a monotonic clock.
    """

    def __init__(
        self,
        reopens_in: ReopensIn,
        wait_s: float,
        *,
        stopped: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reopens_in = reopens_in
        self._stopped = stopped
        self._wait_s = wait_s
        self._clock = clock
        self.down: CircuitKey | None = None  # the circuit of the outage
        self.given_up = False  # down for longer than wait_s: the batch stops
        self._since = 0.0
        self._probing = False
        self._changed = asyncio.Event()

    def __bool__(self) -> bool:
        return self.down is not None

    def noticed(self, circuit: CircuitKey) -> None:
        """A prompt failed because ``circuit``'s provider is down (`down_model`)."""
        if self.down is None:
            self.down, self._since = circuit, self._clock()
            model_type, endpoint, model = circuit
            log.warning("provider_down", model_type=model_type, endpoint=endpoint, model=model)

    def reason(self) -> str:
        """Why the batch stopped, for its `BatchStoppedError`."""
        model_type, _, model = circuit = self.down or ("", "", "")
        return (
            f"the provider of {model_type} {model}{endpoint_words(circuit)} is down: its "
            f"circuit there stayed open for "
            f"{self._wait_s:g} s (timeouts, 5xx or broken connections, and every trial call "
            "since failed), so no prompt started after that and the prompts held for it were "
            "not written"
        )

    async def wait(self) -> Literal["go", "probe", "stop"]:
        """Hold a prompt while the provider is down: ``"go"`` once it is up; ``"probe"``:
        this prompt is the trial that says whether it is back (call `probe_ended` after);
        ``"stop"``: it stayed down past ``wait_s``, or the batch stopped (the prompt is left
        for the rerun)."""
        while self.down is not None and not self.given_up and not self._stopped():
            if self._probing:
                changed = self._changed
                await changed.wait()
                continue
            reopens = self._reopens_in(self.down)
            if reopens is None:  # a call of another prompt was answered: it is back
                self._back()
                break
            if self._clock() + reopens - self._since > self._wait_s:
                self.given_up = True
                self._wake()
                break
            self._probing = True
            try:
                await asyncio.sleep(reopens)
            except BaseException:
                self._probing = False
                self._wake()
                raise
            return "probe"
        return "stop" if self.given_up or self._stopped() else "go"

    def probe_ended(self) -> None:
        """The probe's prompt ended: the provider is back if its circuit closed."""
        self._probing = False
        if self.down is not None and self._reopens_in(self.down) is None:
            self._back()
        self._wake()

    def _back(self) -> None:
        if self.down is not None:
            log.warning(
                "provider_back",
                model_type=self.down[0],
                endpoint=self.down[1],
                model=self.down[2],
                down_s=round(self._clock() - self._since, 1),
            )
        self.down = None
        self._wake()

    def _wake(self) -> None:
        """Wake the prompts held in `wait` (a fresh event for the next wait)."""
        self._changed.set()
        self._changed = asyncio.Event()
