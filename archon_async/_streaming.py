"""Per-run options of `Engine.generate`: answer overrides, and streaming the answer's text.

Streaming: when the final layer is a single generator or fuser drawing one sample, its one
call is the answer, so that call streams from its provider and every piece of text is handed
to the caller's ``on_delta`` as it arrives. Earlier layers run as usual. When the final layer
selects among candidates (a ranker, a verifier, several samples), the chosen answer is handed
over whole, once chosen.

The streamed call is marked with a context variable that the dispatcher reads
(`claim_stream_sink`): the layer's tasks inherit it, and the first call to claim it is the one
that streams, so no other call can write into the answer.

Overrides: ``temperature``, ``top_p`` and ``max_tokens`` given for a run apply to the answer layer,
the last layer holding a generator or a fuser (the calls that write the answer's text);
rankers, critics and verifiers keep their configured settings, which their parsers rely on.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import anyio

from ._config import ComponentSpec
from ._exceptions import InvalidInputError
from ._trace import Result
from ._types import ChatRequest, ChatResponse

__all__ = [
    "AnswerStream",
    "DeltaCallback",
    "OnDelta",
    "RunOptions",
    "StreamChunk",
    "StreamSink",
    "claim_stream_sink",
    "send_for_sink",
]

#: Receives the answer's text piece by piece, in order (an async callable).
DeltaCallback = Callable[[str], Awaitable[None]]
#: What a caller may give as ``on_delta``: a callable, async or not (see `_awaitable`).
OnDelta = Callable[[str], Awaitable[None] | None]

# A context manager that does nothing, reusable (a run's layers enter it in turn).
_NOTHING = contextlib.nullcontext()

# The component types whose single call writes the answer's text verbatim.
_WRITERS = ("generator", "fuser")


def _awaitable(on_delta: OnDelta) -> DeltaCallback:
    """The caller's callback as the sink awaits it: an async one as it is, a plain one (a
    list's append, print) called and not awaited (awaiting its None was a TypeError)."""
    if inspect.iscoroutinefunction(on_delta):
        return on_delta

    async def deliver(text: str) -> None:
        result = on_delta(text)
        if inspect.isawaitable(result):  # a callable object or partial of an async one
            await result

    return deliver


class StreamSink:
    """Where the streamed call's text goes; claimed by one call only."""

    __slots__ = ("_on_delta", "claimed", "sent")

    def __init__(self, on_delta: DeltaCallback) -> None:
        self._on_delta = on_delta
        self.claimed = False
        #: Characters handed to the caller so far: once text has gone out, it cannot be
        #: taken back, so a call that fails after this point is not retried.
        self.sent = 0

    @property
    def started(self) -> bool:
        """Whether any text has been handed over."""
        return self.sent > 0

    async def deliver(self, text: str) -> None:
        """Hand one piece of text to the caller (empty pieces are dropped)."""
        if text:
            self.sent += len(text)
            await self._on_delta(text)


_stream_sink: ContextVar[StreamSink | None] = ContextVar("archon_stream_sink", default=None)


def claim_stream_sink() -> StreamSink | None:
    """The sink this call streams into, or None: only the first call of the streamed layer
    gets it."""
    sink = _stream_sink.get()
    if sink is None or sink.claimed:
        return None
    sink.claimed = True
    return sink


def send_for_sink(
    provider: Any, request: ChatRequest, api_key: str | None, sink: StreamSink | None
) -> Awaitable[ChatResponse]:
    """One attempt of a call: streamed into ``sink`` when there is one and the provider can
    stream (it has ``stream(request, *, api_key, on_delta)``), else sent whole. Returns the
    provider's own coroutine, for the caller to await (no level in between)."""
    streamer = getattr(provider, "stream", None) if sink is not None else None
    if streamer is None or sink is None:
        sent: Awaitable[ChatResponse] = provider.send(request, api_key=api_key)
        return sent
    streamed: Awaitable[ChatResponse] = streamer(request, api_key=api_key, on_delta=sink.deliver)
    return streamed


@dataclass(frozen=True, slots=True)
class RunOptions:
    """What one run changes: answer overrides and where its text streams.

    Attributes:
        temperature: the answer layer's temperature, or None for the configured one.
        top_p: the answer layer's nucleus sampling, or None for the configured one.
        max_tokens: the answer layer's completion budget, or None for the configured one.
        answer_layer: the index of the layer the overrides apply to.
        streamed_layer: the index of the layer whose single call streams, or None.
        sink: where streamed text goes, or None when the caller did not ask for it.
    """

    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    answer_layer: int = -1
    streamed_layer: int | None = None
    sink: StreamSink | None = None

    @classmethod
    def build(
        cls,
        layers: Sequence[Sequence[ComponentSpec]],
        *,
        temperature: float | None,
        max_tokens: int | None,
        on_delta: OnDelta | None,
        top_p: float | None = None,
    ) -> RunOptions:
        """Check the overrides and find the answer and streamed layers.

        Raises:
            InvalidInputError: temperature not in [0, 2], top_p not in [0, 1] (the OpenAI
                and Anthropic APIs' ranges), max_tokens not a positive integer, or an
                on_delta that is not callable.
        """
        if on_delta is not None and not callable(on_delta):
            raise InvalidInputError(
                f"on_delta is {type(on_delta).__name__}: give a callable taking each piece of "
                "the answer's text (async or not)"
            )
        if top_p is not None and (
            isinstance(top_p, bool) or not isinstance(top_p, int | float) or not 0 <= top_p <= 1
        ):
            raise InvalidInputError(f"top_p is {top_p!r}: give a number from 0 to 1")
        if temperature is not None and (
            isinstance(temperature, bool)
            or not isinstance(temperature, int | float)
            or not 0.0 <= temperature <= 2.0
        ):
            raise InvalidInputError(f"temperature is {temperature!r}: give a number from 0 to 2")
        if max_tokens is not None and (
            isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
        ):
            raise InvalidInputError(f"max_tokens is {max_tokens!r}: give a positive integer")
        writers = [i for i, layer in enumerate(layers) if any(s.type in _WRITERS for s in layer)]
        last = len(layers) - 1
        final = layers[last] if layers else ()
        single = len(final) == 1 and final[0].type in _WRITERS and final[0].samples == 1
        return cls(
            temperature=None if temperature is None else float(temperature),
            max_tokens=max_tokens,
            top_p=None if top_p is None else float(top_p),
            answer_layer=writers[-1] if writers else last,
            streamed_layer=last if single else None,
            sink=StreamSink(_awaitable(on_delta)) if on_delta is not None else None,
        )

    def spec(self, layer: int, spec: ComponentSpec) -> ComponentSpec:
        """The spec a component of ``layer`` runs with in this run."""
        if layer != self.answer_layer or spec.type not in _WRITERS:
            return spec
        update: dict[str, Any] = {}
        if self.temperature is not None:
            update["temperature"] = self.temperature
        if self.max_tokens is not None:
            update["max_tokens"] = self.max_tokens
        if self.top_p is not None:
            update["top_p"] = self.top_p
        return spec.model_copy(update=update) if update else spec

    def layer(self, index: int) -> contextlib.AbstractContextManager[None]:
        """Around a layer's run: the streamed layer's tasks can claim the sink."""
        if self.sink is None or index != self.streamed_layer:
            return _NOTHING  # every layer of every unstreamed run: no generator to drive
        return self._streaming(self.sink)

    @staticmethod
    @contextlib.contextmanager
    def _streaming(sink: StreamSink) -> Iterator[None]:
        token = _stream_sink.set(sink)
        try:
            yield
        finally:
            _stream_sink.reset(token)

    async def finish(self, answer: str) -> None:
        """After the run: hand over the chosen answer whole when nothing was streamed."""
        if self.sink is not None and not self.sink.started:
            await self.sink.deliver(answer)


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """A piece of a streamed answer.

    Attributes:
        text: the next piece of the answer's text ("" on the last chunk).
        result: on the last chunk only, the run's `Result` (its trace holds the usage).
    """

    text: str
    result: Result | None = None


# Pieces of text waiting for a slow reader before the provider's stream is paused.
_BUFFERED_PIECES = 64


class AnswerStream:
    """The answer of `Engine.stream`, piece by piece: ``async for chunk in stream``.

    The run starts on the first iteration. Pieces are `StreamChunk` objects; the last one
    carries the run's `Result` (also `AnswerStream.result` once the iteration is over). A
    failed run raises its error from the iteration, as `Engine.generate` would. Leaving the
    loop early (or closing the stream) cancels the run and every call it started; use
    ``async with engine.stream(q) as stream:`` to close it as soon as the block ends.
    """

    def __init__(self, run: Callable[[DeltaCallback], Awaitable[Result]]) -> None:
        self._run = run
        self._chunks: AsyncGenerator[StreamChunk, None] | None = None
        self.result: Result | None = None

    def __aiter__(self) -> AsyncIterator[StreamChunk]:
        if self._chunks is None:
            self._chunks = self._produce()
        return self._chunks

    async def __aenter__(self) -> AnswerStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel the run if it is still going."""
        if self._chunks is not None:
            await self._chunks.aclose()

    async def _produce(self) -> AsyncGenerator[StreamChunk, None]:
        send, receive = anyio.create_memory_object_stream[str](_BUFFERED_PIECES)

        async def produce() -> Result:
            async with send:
                return await self._run(send.send)

        # A task rather than a task group: a generator cannot hold a task group open
        # across its yields. The finally clause below ends it whatever happens.
        task = asyncio.ensure_future(produce())
        try:
            async with receive:
                async for text in receive:
                    yield StreamChunk(text)
            self.result = await task
            yield StreamChunk("", result=self.result)
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait([task])
            if not task.cancelled():
                task.exception()  # retrieved, so that asyncio does not report it as lost
