"""A provider served by a Python function, for Archon-style custom generators.

`Registry.add_generator` wraps the function in `FunctionProvider`, so that a custom model runs
behind the engine's limits, keys and retries like any other. Two shapes are accepted:

* ours: ``async def generate(request: ChatRequest) -> str``;
* Archon's: ``generate(model=..., messages=..., max_tokens=..., temperature=...) -> str``,
  sync or async. A sync function runs on a worker thread, so that it cannot stall the event
  loop that every other call of the engine shares.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import anyio

from archon_async.core import (
    ArchonError,
    ChatRequest,
    ChatResponse,
    ConfigError,
    MalformedResponseError,
    ProviderError,
    is_async_callable,
)

__all__ = ["FunctionProvider", "check_generator"]

# The keyword arguments Archon passes its generators.
_ARCHON_KEYWORDS = ("model", "messages", "max_tokens", "temperature")


def check_generator(name: str, generate: Callable[..., Any]) -> None:
    """Check that a function has one of the two accepted shapes.

    Raises:
        ConfigError: it is not callable, or takes neither a request nor Archon's keywords.
    """
    if not callable(generate):
        raise ConfigError(f"custom generator {name!r} must be a function")
    if _takes_archon_keywords(generate):
        return
    if not is_async_callable(generate):
        raise ConfigError(
            f"custom generator {name!r} must be 'async def generate(request)' or take "
            "Archon's keywords (model, messages, max_tokens, temperature)"
        )


def _takes_archon_keywords(generate: Callable[..., Any]) -> bool:
    """Whether Archon's four keyword arguments bind to the function's parameters."""
    try:
        inspect.signature(generate).bind(**dict.fromkeys(_ARCHON_KEYWORDS))
    except (TypeError, ValueError):  # they do not bind, or a builtin has no signature
        return False
    return True


class FunctionProvider:
    """Adapts a generator function to the Provider protocol.

    Args:
        model_type: the name the function is registered under.
        generate: the function; it returns the reply text.
    """

    def __init__(self, model_type: str, generate: Callable[..., Any]):
        self.model_type = model_type
        self._generate = generate
        self._archon_style = _takes_archon_keywords(generate)
        self._is_async = is_async_callable(generate)

    def __repr__(self) -> str:
        name = getattr(self._generate, "__qualname__", type(self._generate).__name__)
        return f"FunctionProvider({self.model_type!r}, {name})"

    async def _call(self, request: ChatRequest) -> Any:
        if not self._archon_style:
            return await self._generate(request)
        arguments: dict[str, Any] = {
            "model": request.model,
            "messages": [dict(message) for message in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if self._is_async:
            return await self._generate(**arguments)
        return await anyio.to_thread.run_sync(lambda: self._generate(**arguments))

    async def send(self, request: ChatRequest, *, api_key: str | None) -> ChatResponse:
        """Call the function once (the key, if any, is not passed to it).

        Raises:
            MalformedResponseError: the function returned something other than a non-empty
                string (Archon's generators return None on failure: that lands here too).
            ProviderError: the function raised something other than an ArchonError (which
                passes through as it is); the cause is chained.
        """
        try:
            text = await self._call(request)
        except ArchonError:
            raise
        except Exception as exc:
            raise ProviderError(
                f"the generator raised {type(exc).__name__}: {exc}",
                provider=self.model_type,
                model=request.model,
            ) from exc
        if not isinstance(text, str) or not text.strip():
            got = "an empty string" if isinstance(text, str) else type(text).__name__
            raise MalformedResponseError(
                f"the generator returned {got}; it must return the reply text",
                provider=self.model_type,
                model=request.model,
            )
        return ChatResponse(text=text, model=request.model)

    async def aclose(self) -> None:
        """Nothing to close."""
