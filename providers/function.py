"""A provider served by a Python function, for Archon-style custom generators.

`Registry.add_generator` wraps ``async def generate(request) -> str`` in `FunctionProvider`,
so that a custom model runs behind the engine's limits, keys and retries like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from archon_async.core import (
    ArchonError,
    ChatRequest,
    ChatResponse,
    MalformedResponseError,
    ProviderError,
)

__all__ = ["FunctionProvider"]


class FunctionProvider:
    """Adapts an async function ``generate(request) -> str`` to the Provider protocol.

    Args:
        model_type: the name the function is registered under.
        generate: the function; it returns the reply text.
    """

    def __init__(self, model_type: str, generate: Callable[[ChatRequest], Awaitable[str]]):
        self.model_type = model_type
        self._generate = generate

    def __repr__(self) -> str:
        name = getattr(self._generate, "__qualname__", type(self._generate).__name__)
        return f"FunctionProvider({self.model_type!r}, {name})"

    async def send(self, request: ChatRequest, *, api_key: str | None) -> ChatResponse:
        """Call the function once (the key, if any, is not passed to it).

        Raises:
            MalformedResponseError: the function returned something other than a non-empty
                string.
            ProviderError: the function raised something other than an ArchonError (which
                passes through as it is); the cause is chained.
        """
        try:
            text = await self._generate(request)
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
