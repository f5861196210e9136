"""A fake `ComponentContext` for component tests: scripted replies, recorded calls and notes.

Tests get it through the ``make_ctx`` fixture:

    ctx = make_ctx(spec, reply)            # reply(messages) -> str | Awaitable[str], may raise

``reply`` receives the messages of each call and returns the reply's text, or a whole
`ChatResponse` (to give a ``finish_reason``). ``ctx.requests`` records every call's
messages in arrival order, ``ctx.notes`` every note. ``ctx.map``/``ctx.map_settled`` are
the engine's own (`archon_async._concurrency`), so concurrency is real; `Barrier` proves
that a number of calls are in flight together (each call waits until all have arrived).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import pytest

from archon_async._concurrency import gather_map, gather_map_settled
from archon_async.core import ArchonError, ChatResponse, ComponentSpec, Message, Usage

T = TypeVar("T")
R = TypeVar("R")

Reply = Callable[[list[Message]], "str | ChatResponse | Awaitable[str | ChatResponse]"]

CONVERSATION: list[Message] = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is 2 + 2?"},
]


@dataclass
class Call:
    """One recorded completion request."""

    messages: list[Message]
    temperature: float | None
    max_tokens: int | None

    @property
    def prompt(self) -> str:
        """The last message's text (the task prompt)."""
        return self.messages[-1]["content"]


@dataclass
class FakeContext:
    """Implements `archon_async.core.ComponentContext` with a scripted reply function."""

    spec: ComponentSpec
    reply: Reply
    conversation: list[Message] = field(default_factory=lambda: list(CONVERSATION))
    scorers: dict[str, Any] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    requests: list[Call] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatResponse:
        self.requests.append(Call(list(messages), temperature, max_tokens))
        reply = self.reply(list(messages))
        if not isinstance(reply, str | ChatResponse):
            reply = await reply
        if isinstance(reply, ChatResponse):
            return reply
        return ChatResponse(text=reply, usage=Usage(1, 1), model=self.spec.model)

    async def map(self, fn: Callable[[T], Awaitable[R]], items: Sequence[T]) -> list[R]:
        return await gather_map(fn, items)

    async def map_settled(
        self, fn: Callable[[T], Awaitable[R]], items: Sequence[T]
    ) -> list[R | ArchonError]:
        return await gather_map_settled(fn, items)

    def note(self, event: str, **fields: Any) -> None:
        self.notes.append({"event": event, **fields})

    def scorer(self, name: str) -> Any:
        return self.scorers.get(name)

    def events(self) -> list[str]:
        """The names of the notes recorded, in order."""
        return [note["event"] for note in self.notes]


class Barrier:
    """Each `wait` returns only once ``parties`` callers are waiting: proof of concurrency."""

    def __init__(self, parties: int) -> None:
        self.parties = parties
        self.arrived = 0
        self._all_in = anyio.Event()

    async def wait(self) -> None:
        self.arrived += 1
        if self.arrived >= self.parties:
            self._all_in.set()
        await self._all_in.wait()

    async def wait_all_arrived(self) -> None:
        """Return once every party has arrived (without being one of them)."""
        await self._all_in.wait()


def spec_of(type_: str, **settings: Any) -> ComponentSpec:
    """A component spec with a fake model."""
    return ComponentSpec(type=type_, model="fake-model", model_type="Fake_API", **settings)


@pytest.fixture
def make_ctx() -> Callable[..., FakeContext]:
    """Build a `FakeContext`: ``make_ctx(spec, reply, conversation=..., scorers=...)``."""

    def build(spec: ComponentSpec, reply: Reply, **kwargs: Any) -> FakeContext:
        return FakeContext(spec=spec, reply=reply, **kwargs)

    return build


@pytest.fixture
def spec() -> Callable[..., ComponentSpec]:
    """Build a `ComponentSpec`: ``spec("ranker", top_k=2)``."""
    return spec_of


@pytest.fixture
def barrier() -> Callable[[int], Barrier]:
    """Build a `Barrier` for ``parties`` concurrent calls."""
    return Barrier
