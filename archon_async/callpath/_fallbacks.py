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
in order, and each use is noted in the trace (``fallback``: trigger, from, to, error).
"""

from __future__ import annotations

import dataclasses
import re
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

__all__ = ["fallback_trigger", "with_fallbacks"]

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
