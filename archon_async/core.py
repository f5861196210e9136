"""What a provider or component author needs: the protocols, value types and errors.

Providers and components import from here only, never from the engine's private modules,
so that the engine can change without breaking plugins.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from ._config import ComponentSpec, ProviderSettings
from ._exceptions import (
    ArchonError,
    AuthenticationError,
    BadRequestError,
    ComponentError,
    ConfigError,
    IncompleteReplyError,
    MalformedResponseError,
    OutputParseError,
    ProviderConnectionError,
    ProviderError,
    ProviderServerError,
    ProviderStatusError,
    ProviderTimeoutError,
    RateLimitError,
    RateLimitResetError,
)
from ._http import STREAM_EXTENSION, rate_limit_headers, retry_after_from_headers
from ._logging import get_logger
from ._redact import redact_secret, url_secrets
from ._streaming import DeltaCallback
from ._types import CallRecord, ChatRequest, ChatResponse, FailedChoice, Message, Usage

if TYPE_CHECKING:
    from ._http_client import ReplyTooLargeError, make_http_client

__all__ = [
    "QUERY_UNIT_TESTS",
    "STREAM_EXTENSION",
    "ArchonError",
    "AuthenticationError",
    "BadRequestError",
    "CallRecord",
    "ChatRequest",
    "ChatResponse",
    "Component",
    "ComponentContext",
    "ComponentError",
    "ComponentFactory",
    "ComponentSpec",
    "ConfigError",
    "DeltaCallback",
    "FailedChoice",
    "IncompleteReplyError",
    "MalformedResponseError",
    "Message",
    "OutputParseError",
    "Provider",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderFactory",
    "ProviderServerError",
    "ProviderSettings",
    "ProviderStatusError",
    "ProviderTimeoutError",
    "RateLimitError",
    "RateLimitResetError",
    "ReplyTooLargeError",
    "Scorer",
    "State",
    "StateUpdate",
    "StreamingProvider",
    "Usage",
    "get_logger",
    "is_async_callable",
    "make_http_client",
    "query_unit_tests",
    "rate_limit_headers",
    "redact_secret",
    "retry_after_from_headers",
    "url_secrets",
]

T = TypeVar("T")
R = TypeVar("R")

#: Names resolved on first use: they import httpx (a tenth of the command's start-up), which
#: a run that sends nothing (a fully cached rerun) never needs.
_HTTP_CLIENT_NAMES = frozenset({"ReplyTooLargeError", "make_http_client"})


def __getattr__(name: str) -> Any:
    if name in _HTTP_CLIENT_NAMES:
        from . import _http_client

        return getattr(_http_client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The state a layer receives: ``candidates``, ``critiques``, ``unit_tests`` and custom keys.
State = Mapping[str, Any]
#: What a component returns: the keys it writes. Lists from the components of one layer are
#: concatenated in the order of the components in the config; other values replace.
StateUpdate = dict[str, Any]

#: The state key under which the engine keeps the tests each ``unit_test_generator`` has
#: appended to the query so far (Archon appends them to the user's message, which every
#: later component reads): one list of tests per generator, in the order they ran.
QUERY_UNIT_TESTS = "query_unit_tests"


def query_unit_tests(state: State) -> list[list[str]]:
    """The unit-test lists appended to the query so far, oldest first.

    The engine's `QUERY_UNIT_TESTS` when present; otherwise the state's ``unit_tests`` as
    one list (a component run on a hand-built state, or tests written by a custom component).
    """
    if QUERY_UNIT_TESTS in state:
        return [[str(test) for test in tests] for tests in state[QUERY_UNIT_TESTS]]
    tests = state.get("unit_tests")
    return [[str(test) for test in tests]] if tests else []


def is_async_callable(obj: object) -> bool:
    """Whether calling ``obj`` returns a coroutine: an async function, or an object whose
    class defines ``async def __call__``."""
    if inspect.iscoroutinefunction(obj):
        return True
    return callable(obj) and inspect.iscoroutinefunction(type(obj).__call__)


@runtime_checkable
@runtime_checkable
class Scorer(Protocol):
    """A scoring backend of reward-model rankers (``llm-blender/PairRM``): scores candidate
    answers to one query, higher is better (`Engine(..., scorers={model: scorer})`)."""

    async def score(self, query: str, candidates: Sequence[str]) -> list[float]:
        """One score per candidate, in candidate order.

        Raises:
            ProviderError: the backend failed or answered something unusable.
        """
        ...


class Provider(Protocol):
    """An adapter for one wire protocol (OpenAI chat completions, Anthropic messages, ...).

    A provider makes exactly one attempt per `send`: the engine owns retries, rate limits
    and keys, so that it can rotate keys and honour limits shared by every call.
    """

    async def send(self, request: ChatRequest, *, api_key: str | None) -> ChatResponse:
        """Send one request and parse the reply.

        Raises:
            ProviderStatusError: the provider answered with an error status (subclass by kind).
            ProviderConnectionError: the provider could not be reached or timed out.
            MalformedResponseError: the reply was empty or not in the wire format.
        """
        ...

    async def aclose(self) -> None:
        """Close the provider's connection pool."""
        ...


@runtime_checkable
class StreamingProvider(Provider, Protocol):
    """A provider that can also stream a reply's text as it is written.

    The engine streams the one call whose text is the run's answer (see `Engine.stream`);
    a provider without `stream` sends that call whole and the answer comes in one piece.
    """

    async def stream(
        self, request: ChatRequest, *, api_key: str | None, on_delta: DeltaCallback
    ) -> ChatResponse:
        """Send one request, await ``on_delta`` with each piece of text as it arrives, and
        return the whole reply as `send` would.

        Raises:
            ProviderError: as `send`; also a stream that breaks or reports an error.
        """
        ...


class ComponentContext(Protocol):
    """What the engine gives a running component."""

    @property
    def spec(self) -> ComponentSpec:
        """The component's configuration."""
        ...

    @property
    def conversation(self) -> Sequence[Message]:
        """The conversation being answered, system message first."""
        ...

    @property
    def rng(self) -> random.Random:
        """A random generator seeded per run and component, for reproducible choices."""
        ...

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatResponse:
        """Ask the component's model for one completion (limits, keys, retries included).

        Raises:
            ProviderError: the call failed after the retries allowed.
        """
        ...

    async def map(self, fn: Callable[[T], Awaitable[R]], items: Sequence[T]) -> list[R]:
        """Run ``fn`` on every item concurrently; results in item order. Fails fast.

        Raises:
            ArchonError: the first failure, after the other calls are cancelled.
        """
        ...

    async def map_settled(
        self, fn: Callable[[T], Awaitable[R]], items: Sequence[T]
    ) -> list[R | ArchonError]:
        """Run ``fn`` on every item concurrently; each result is a value or the ArchonError."""
        ...

    def note(self, event: str, **fields: Any) -> None:
        """Record something worth knowing (a parser fallback, a retry) in the trace."""
        ...

    def scorer(self, name: str) -> Any:
        """The scoring backend registered for a reward model such as ``llm-blender/PairRM``
        (an object with ``async score(query, candidates) -> list[float]``), or None."""
        ...


class Component(Protocol):
    """An inference-time technique. Built once from its spec (raise ConfigError there for a
    bad setting), then run once per layer execution."""

    async def run(self, ctx: ComponentContext, state: State) -> StateUpdate:
        """Read the previous layer's state and return the keys this component writes."""
        ...


#: Builds a component from its spec; a class whose ``__init__`` takes the spec fits.
ComponentFactory = Callable[[ComponentSpec], Component]
#: Builds a provider for a model_type from its settings.
ProviderFactory = Callable[[str, ProviderSettings], Provider]
