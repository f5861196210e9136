"""Fallback models by error type, as LiteLLM users know them, and a circuit per model.

A component may name models to try instead of its own when a call fails for one of three
reasons (``"fallbacks"`` in its config)::

    {"type": "generator", "model": "small-8k", "model_type": "OpenAI_API",
     "fallbacks": {"context_window": ["big-128k"],
                   "content_policy": [{"model": "claude-3-5-sonnet-20240620",
                                       "model_type": "Anthropic_API"}],
                   "unavailable": ["backup-model"]}}

* ``context_window``: the prompt is longer than the model's context (a 400 saying so).
* ``content_policy``: the provider's content filter refused the prompt or the reply.
* ``unavailable``: the model's provider is down: its circuit is open (`Circuits`: after
  3 calls in a row failed with timeouts, broken connections or 5xx, after their retries,
  the model is not called for 30 s), or the call failed that way.

A fallback is a model name (same model_type) or ``{"model", "model_type"}``; they are tried
in order, and each use is noted in the trace (``fallback``: trigger, from, to, error).
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

from .._exceptions import (
    BadRequestError,
    IncompleteReplyError,
    ProviderConnectionError,
    ProviderError,
    ProviderServerError,
)
from .._types import ChatRequest

__all__ = ["Circuits", "ProviderUnavailableError", "fallback_trigger", "with_fallbacks"]

Trigger = Literal["context_window", "content_policy", "unavailable"]

_CONTEXT = re.compile(
    r"context.length|context_length_exceeded|maximum context|prompt is too long|"
    r"input is too long|too many (?:input )?tokens|exceeds the (?:context|maximum)",
    re.IGNORECASE,
)
_POLICY = re.compile(
    r"content.?(?:filter|policy|management)|responsible ?ai|safety|flagged|blocked",
    re.IGNORECASE,
)
_FAILURES_TO_OPEN = 3
_OPEN_S = 30.0


class ProviderUnavailableError(ProviderConnectionError):
    """The model's circuit is open: its last calls failed with timeouts or 5xx."""


def fallback_trigger(error: ProviderError) -> Trigger | None:
    """Which fallback list a failed call's error calls for, if any."""
    text = f"{error} {getattr(error, 'body', '') or ''}"
    if isinstance(error, BadRequestError) and _CONTEXT.search(text):
        return "context_window"
    if isinstance(error, BadRequestError | IncompleteReplyError) and _POLICY.search(text):
        return "content_policy"
    if isinstance(error, ProviderConnectionError | ProviderServerError):
        return "unavailable"
    return None


class Circuits:
    """Per (model_type, model): opened by consecutive failed calls, closed by a success.

    Args:
        failures_to_open: failed calls in a row that open the circuit.
        open_s: how long an open circuit refuses calls before one is tried again.
        clock: a monotonic clock (tests pass a fake one).
    """

    def __init__(
        self,
        *,
        failures_to_open: int = _FAILURES_TO_OPEN,
        open_s: float = _OPEN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._failures: dict[tuple[str, str], int] = {}
        self._open_until: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self.failures_to_open = failures_to_open
        self.open_s = open_s
        self._clock = clock

    def check(self, request: ChatRequest) -> None:
        """Raise if the request's model is not to be called now.

        Raises:
            ProviderUnavailableError: the circuit is open.
        """
        until = self._open_until.get((request.model_type, request.model))
        if until is not None and until > self._clock():
            raise ProviderUnavailableError(
                f"not called: its last {self.failures_to_open} calls failed (timeouts or "
                f"server errors); tried again in {until - self._clock():.0f} s",
                provider=request.model_type,
                model=request.model,
            )

    def record(self, request: ChatRequest, error: ProviderError | None) -> None:
        """Count a finished call: a timeout, broken connection or 5xx, or anything else."""
        pair = (request.model_type, request.model)
        with self._lock:
            if not isinstance(error, ProviderConnectionError | ProviderServerError):
                self._failures.pop(pair, None)
                return
            count = self._failures[pair] = self._failures.get(pair, 0) + 1
            if count >= self.failures_to_open:
                self._open_until[pair] = self._clock() + self.open_s


def _alternative(request: ChatRequest, entry: str | Mapping[str, Any]) -> ChatRequest:
    if isinstance(entry, str):
        return dataclasses.replace(request, model=entry)
    return dataclasses.replace(
        request,
        model=str(entry["model"]),
        model_type=str(entry.get("model_type") or request.model_type),
        base_url=entry.get("base_url"),
    )


async def with_fallbacks(
    request: ChatRequest,
    fallbacks: Mapping[Any, Sequence[str | Mapping[str, Any]]],
    call: Callable[[ChatRequest], Awaitable[Any]],
    note: Callable[..., None],
) -> Any:
    """``call(request)``, then, on an error whose trigger has fallbacks, each fallback in
    turn until one succeeds (each use noted); the last error if none does.

    Raises:
        ProviderError: the request and every fallback of its trigger failed.
    """
    try:
        return await call(request)
    except ProviderError as error:
        trigger = fallback_trigger(error)
        entries = list(fallbacks.get(trigger, ())) if trigger else []
        if not entries:
            raise
        last: ProviderError = error
    for entry in entries:
        alternative = _alternative(request, entry)
        note(
            "fallback",
            trigger=trigger,
            model=request.model,
            fallback=alternative.model,
            error=f"{type(last).__name__}: {last}",
        )
        try:
            return await call(alternative)
        except ProviderError as error:
            last = error
    raise last
