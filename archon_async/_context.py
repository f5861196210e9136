"""The context a running component talks to: its model, the conversation, the trace."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from ._concurrency import gather_map, gather_map_settled
from ._config import ComponentSpec
from ._exceptions import ArchonError, ProviderError
from ._trace import ComponentTrace
from ._types import CallRecord, ChatRequest, ChatResponse, Message

__all__ = ["CallContext", "Completer", "RequestShape", "request_for"]

T = TypeVar("T")
R = TypeVar("R")


class Completer(Protocol):
    """The engine side of a call: the run's call path, and what it charges."""

    def complete(self, request: ChatRequest) -> Awaitable[tuple[ChatResponse, CallRecord]]:
        """Make the call (its record is on the `ProviderError` if it fails)."""
        ...

    def charge(self, record: CallRecord) -> None:
        """Count a call made, failed or not (`CallContext` calls it as the call ends)."""
        ...


def request_for(
    spec: ComponentSpec,
    messages: Sequence[Message],
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> ChatRequest:
    """The request a component's spec makes (a component's own temperature or budget wins
    over the spec's; a parameter the spec omits is left out whatever asked for it)."""
    return RequestShape(spec).request(messages, temperature, max_tokens)


class RequestShape:
    """What every request of one spec shares, read from the spec once: an engine keeps one
    per component of its architecture (`archon_async._layer.LayerPlan`), so that a call
    builds only its `ChatRequest`, not the spec's fields, ``omit`` and ``stop`` again."""

    __slots__ = (
        "_base_url",
        "_extra",
        "_max_tokens",
        "_model",
        "_model_type",
        "_omits_max_tokens",
        "_omits_temperature",
        "_stop",
        "_temperature",
        "_top_p",
    )

    def __init__(self, spec: ComponentSpec) -> None:
        omit = spec.omit or ()
        self._model = spec.model
        self._model_type = spec.model_type
        self._omits_temperature = "temperature" in omit
        self._omits_max_tokens = "max_tokens" in omit
        self._temperature = None if self._omits_temperature else spec.temperature
        self._max_tokens = None if self._omits_max_tokens else spec.max_tokens
        self._base_url = spec.base_url
        self._extra = spec.extra_body or {}
        self._top_p = None if "top_p" in omit else spec.top_p
        self._stop = () if "stop" in omit else spec.stop_sequences()

    def request(
        self,
        messages: Sequence[Message],
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatRequest:
        """The request for ``messages`` (see `request_for`)."""
        if temperature is None or self._omits_temperature:
            temperature = self._temperature
        if max_tokens is None or self._omits_max_tokens:
            max_tokens = self._max_tokens
        return ChatRequest(
            self._model,
            self._model_type,
            messages,
            temperature,
            max_tokens,
            self._base_url,
            self._extra,
            self._top_p,
            self._stop,
        )


class CallContext:
    """Implements `archon_async.core.ComponentContext` for one component in one run."""

    __slots__ = (
        "_completer",
        "_conversation",
        "_rng",
        "_scorers",
        "_seed",
        "_shape",
        "_spec",
        "_trace",
    )

    def __init__(
        self,
        *,
        spec: ComponentSpec,
        conversation: Sequence[Message],
        completer: Completer,
        trace: ComponentTrace,
        seed: str | Callable[[], str],
        scorers: Mapping[str, Any],
        shape: RequestShape | None = None,
    ) -> None:
        # ``seed``: the string, or what makes it when a component first draws (the engine's
        # run key hashes the conversation: done only for the runs that need it).
        # ``shape``: the spec's `RequestShape` when the caller keeps one (the engine's plan).
        self._spec = spec
        self._shape = shape if shape is not None else RequestShape(spec)
        self._conversation = conversation
        self._completer = completer
        self._trace = trace
        self._seed = seed
        self._rng: random.Random | None = None
        self._scorers = scorers

    @property
    def spec(self) -> ComponentSpec:
        return self._spec

    @property
    def conversation(self) -> Sequence[Message]:
        return self._conversation

    @property
    def rng(self) -> random.Random:
        # Seeding from a string hashes it: done only for the components that draw.
        if self._rng is None:
            seed = self._seed
            self._rng = random.Random(seed if isinstance(seed, str) else seed())
        return self._rng

    def complete(
        self,
        messages: Sequence[Message],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Coroutine[Any, Any, ChatResponse]:
        # The call's own coroutine, not one that awaits it: a level less on every loop turn
        # of the call (and one object less alive per call in flight).
        request = self._shape.request(messages, temperature, max_tokens)
        if self._spec.fallbacks:
            from .callpath._fallbacks import with_fallbacks

            answered: Coroutine[Any, Any, ChatResponse] = with_fallbacks(
                request, self._spec.fallbacks, self._call, self.note
            )
            return answered
        return self._call(request)

    async def _call(self, request: ChatRequest) -> ChatResponse:
        # The completer's coroutine is awaited here and charged here, not by a coroutine of
        # the completer's own: a level less on every loop turn of the call.
        completer = self._completer
        try:
            response, record = await completer.complete(request)
        except ProviderError as exc:
            # A failed call is a call too: its attempts count in the trace's totals.
            if exc.call_record is not None:
                self._trace.record_call(exc.call_record)
                completer.charge(exc.call_record)
            self._trace.notes.append({"event": "call_failed", "error": str(exc)})
            raise
        self._trace.record_call(record)
        completer.charge(record)
        return response

    async def complete_samples(
        self,
        messages: Sequence[Message],
        count: int,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> list[ChatResponse | ArchonError]:
        """``count`` samples of one completion, drawn in as few requests as the provider
        allows; each is its response or the error its request met (recorded once)."""
        request = self._shape.request(messages, temperature, max_tokens)
        many = getattr(self._completer, "complete_samples", None)
        if many is None:  # a completer of one call at a time
            return await gather_map_settled(self.complete, [messages] * count)
        outcomes = await many(request, count)
        # Requests refused for asking n samples (their samples drawn again): sent too.
        refused: list[CallRecord] = list(getattr(outcomes, "refused", ()))
        replaced: Sequence[ProviderError] = ()
        if self._spec.fallbacks:
            from .callpath._fallbacks import samples_with_fallbacks

            async def draw(alternative: ChatRequest, k: int) -> Any:
                # A fallback model refusing n was sent to as well: its refusals count too.
                drawn = await many(alternative, k)
                refused.extend(getattr(drawn, "refused", ()))
                return drawn

            outcomes, replaced = await samples_with_fallbacks(
                request, outcomes, self._spec.fallbacks, draw, self.note
            )
        results: list[ChatResponse | ArchonError] = []
        records: list[CallRecord] = list(refused)  # in order, recorded together
        recorded: set[int] = set()
        for error in replaced:  # calls made too, though a fallback answered
            if id(error) not in recorded:
                recorded.add(id(error))
                if error.call_record is not None:
                    records.append(error.call_record)
                self._trace.notes.append({"event": "call_failed", "error": str(error)})
        for outcome in outcomes:
            if isinstance(outcome, ProviderError):
                if id(outcome) not in recorded:
                    recorded.add(id(outcome))
                    if outcome.call_record is not None:
                        records.append(outcome.call_record)
                    self._trace.notes.append({"event": "call_failed", "error": str(outcome)})
                results.append(outcome)
                continue
            response, record = outcome
            records.append(record)
            results.append(response)
        self._trace.record_calls(records)
        return results

    async def map(self, fn: Callable[[T], Awaitable[R]], items: Sequence[T]) -> list[R]:
        return await gather_map(fn, items)

    async def map_settled(
        self, fn: Callable[[T], Awaitable[R]], items: Sequence[T]
    ) -> list[R | ArchonError]:
        return await gather_map_settled(fn, items)

    def note(self, event: str, **fields: Any) -> None:
        self._trace.notes.append({"event": event, **fields})

    def scorer(self, name: str) -> Any:
        return self._scorers.get(name)
