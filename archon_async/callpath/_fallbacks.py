"""Fallback models by error type, as LiteLLM users know them.

A component may name models to try instead of its own when a call fails for one of three
reasons (``"fallbacks"`` in its config)::

    {"type": "generator", "model": "small-8k", "model_type": "OpenAI_API",
     "fallbacks": {"context_window": ["big-128k"],
                   "content_policy": [{"model": "claude-3-5-sonnet-20240620",
                                       "model_type": "Anthropic_API"}],
                   "unavailable": ["backup-model"]}}

* ``context_window``: the prompt is longer than the model's context (a 400 saying so).
* ``content_policy``: the provider's content filter refused the prompt or the reply.
* ``unavailable``: the model's provider is down: the call failed, after its retries, with a
  timeout, a broken connection or a 5xx, or the model's circuit is open and it was not
  called (`CircuitOpenError`; the policy is `archon_async._circuit`'s, one breaker for
  every call: by default 2 failures in a row, with no reply from the model for its
  ``timeout_s``, open it for 30 s).

A fallback is a model name (same model_type) or ``{"model", "model_type"}``; they are tried
in order, and each use is noted in the trace (``fallback``: trigger, from, to, error). A
component drawing several samples (in requests of ``n``) falls back for the samples whose
request failed, drawing as many from the fallback (`samples_with_fallbacks`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from .._exceptions import (
    BadRequestError,
    IncompleteReplyError,
    ProviderConnectionError,
    ProviderError,
    ProviderServerError,
)
from .._types import ChatRequest

T = TypeVar("T")

__all__ = ["fallback_trigger", "samples_with_fallbacks", "with_fallbacks"]

Trigger = Literal["context_window", "content_policy", "unavailable"]

# Self-hosted servers word it their own way: llama.cpp's "the request exceeds the available
# context size" (type exceed_context_size_error), text-generation-inference's 422 "`inputs`
# tokens + `max_new_tokens` must be <= 4096" and "`inputs` must have less than 1024 tokens".
_CONTEXT = re.compile(
    r"context.length|context_length_exceeded|maximum context|prompt is too long|"
    r"input is too long|too many (?:input )?tokens|exceeds the (?:context|maximum)|"
    r"exceeds? the available context|exceed_context_size|"
    r"inputs`? (?:tokens \+ `?max_new_tokens`? must be|must have less than)",
    re.IGNORECASE,
)
_POLICY = re.compile(
    r"content.?(?:filter|policy|management)|responsible ?ai|safety|flagged|blocked",
    re.IGNORECASE,
)


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
        _note_fallback(note, trigger, request, alternative, last)
        try:
            return await call(alternative)
        except ProviderError as error:
            last = error
    raise last


async def samples_with_fallbacks(
    request: ChatRequest,
    outcomes: Sequence[T | ProviderError],
    fallbacks: Mapping[Any, Sequence[str | Mapping[str, Any]]],
    draw: Callable[[ChatRequest, int], Awaitable[Sequence[T | ProviderError]]],
    note: Callable[..., None],
) -> tuple[list[T | ProviderError], list[ProviderError]]:
    """The samples of ``request`` (``outcomes``, per sample), with those whose error has
    fallbacks drawn again from each fallback in turn (``draw(alternative, k)``; each use
    noted) until they succeed or the fallbacks of their trigger run out.

    Returns:
        Per sample its outcome, and the errors that fallbacks replaced (their calls were
        made: the trace records them).
    """
    final = list(outcomes)
    replaced: list[ProviderError] = []
    waiting: dict[Trigger, list[int]] = {}
    for index, outcome in enumerate(final):
        if isinstance(outcome, ProviderError):
            trigger = fallback_trigger(outcome)
            if trigger is not None and fallbacks.get(trigger):
                waiting.setdefault(trigger, []).append(index)
    for trigger, indices in waiting.items():
        for entry in fallbacks[trigger]:
            alternative = _alternative(request, entry)
            last = final[indices[0]]
            _note_fallback(note, trigger, request, alternative, last, samples=len(indices))
            drawn = await draw(alternative, len(indices))
            failed = []
            for index, outcome in zip(indices, drawn, strict=True):
                previous = final[index]
                if isinstance(previous, ProviderError):  # always: only errors wait here
                    replaced.append(previous)
                final[index] = outcome
                if isinstance(outcome, ProviderError):
                    failed.append(index)
            indices = failed
            if not indices:
                break
    return final, replaced


def _note_fallback(
    note: Callable[..., None],
    trigger: Any,
    request: ChatRequest,
    alternative: ChatRequest,
    error: object,
    **extra: Any,
) -> None:
    """Record one use of a fallback in the trace: why, from which model, to which."""
    note(
        "fallback",
        trigger=trigger,
        model=request.model,
        fallback=alternative.model,
        error=f"{type(error).__name__}: {error}",
        **extra,
    )
