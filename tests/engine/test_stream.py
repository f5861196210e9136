"""`Engine.stream` and `generate(on_delta=...)`: what streams, what is sent whole, and when."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from archon_async import ChatRequest, ChatResponse, Engine, InvalidInputError, ProviderServerError
from archon_async.core import Usage
from tests.conftest import FakeProvider, fake_registry


@dataclass
class StreamingFake:
    """A provider that streams ``pieces``; it can fail before or during a stream."""

    pieces: list[str]
    fail_first_attempts: int = 0
    fail_after: int | None = None
    hold: anyio.Event | None = None
    streamed: list[ChatRequest] = field(default_factory=list)
    sent: list[ChatRequest] = field(default_factory=list)
    cancelled: int = 0

    async def send(self, request: ChatRequest, *, api_key: str | None) -> ChatResponse:
        self.sent.append(request)
        return ChatResponse(text=f"whole {len(self.sent)}", usage=Usage(7, 2))

    async def stream(self, request: ChatRequest, *, api_key: str | None, on_delta: Any) -> Any:
        self.streamed.append(request)
        if len(self.streamed) <= self.fail_first_attempts:
            raise _server_error()
        try:
            for index, piece in enumerate(self.pieces):
                if index == self.fail_after:
                    raise _server_error()
                await on_delta(piece)
                if self.hold is not None and index == 0:
                    await self.hold.wait()
        except anyio.get_cancelled_exc_class():
            self.cancelled += 1
            raise
        return ChatResponse(text="".join(self.pieces), usage=Usage(5, 3))

    async def aclose(self) -> None:
        pass


def _server_error() -> ProviderServerError:
    return ProviderServerError("boom", status_code=503, provider="Fake_API", model="m")


def generator(samples: int = 1) -> dict[str, Any]:
    return {"type": "generator", "model": "g", "model_type": "Fake_API", "samples": samples}


def config(*layers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": "stream-test", "layers": [list(layer) for layer in layers]}


def engine_for(provider: Any, *layers: list[dict[str, Any]]) -> Engine:
    return Engine(config(*layers), registry=fake_registry(provider))


async def test_a_single_final_generator_streams_its_pieces_in_order() -> None:
    provider = StreamingFake(["The ", "answer ", "is 391."])
    async with engine_for(provider, [generator()]) as engine:
        chunks = [chunk async for chunk in engine.stream("What is 17 * 23?")]
    assert [chunk.text for chunk in chunks] == ["The ", "answer ", "is 391.", ""]
    result = chunks[-1].result
    assert result is not None and result.text == "The answer is 391."
    assert result.trace.input_tokens == 5 and result.trace.output_tokens == 3
    assert len(provider.streamed) == 1 and provider.sent == []


async def test_earlier_layers_are_sent_whole_and_the_final_fuser_streams() -> None:
    provider = StreamingFake(["fused ", "answer"])
    fuser = {"type": "fuser", "model": "f", "model_type": "Fake_API"}
    async with engine_for(provider, [generator(samples=3)], [fuser]) as engine:
        pieces: list[str] = []

        async def collect(text: str) -> None:
            pieces.append(text)

        result = await engine.generate("Hi?", on_delta=collect)
    assert pieces == ["fused ", "answer"] and result.text == "fused answer"
    assert [request.model for request in provider.sent] == ["g", "g", "g"]
    assert [request.model for request in provider.streamed] == ["f"]
    assert result.trace.call_count == 4


async def test_a_final_selection_is_sent_once_chosen() -> None:
    # Three samples in the final layer: the answer is a pick, handed over whole.
    provider = StreamingFake(["never streamed"])
    async with engine_for(provider, [generator(samples=3)]) as engine:
        chunks = [chunk async for chunk in engine.stream("Hi?")]
    assert provider.streamed == []
    result = chunks[-1].result
    assert result is not None and result.trace.final_choice is not None
    assert [chunk.text for chunk in chunks] == [result.text, ""]


async def test_a_provider_that_cannot_stream_gives_one_chunk() -> None:
    provider = FakeProvider(lambda request: "whole reply")
    async with engine_for(provider, [generator()]) as engine:
        chunks = [chunk.text async for chunk in engine.stream("Hi?")]
    assert chunks == ["whole reply", ""]


async def test_a_failure_before_any_text_is_retried() -> None:
    provider = StreamingFake(["fine"], fail_first_attempts=1)
    async with engine_for(provider, [generator()]) as engine:
        chunks = [chunk.text async for chunk in engine.stream("Hi?")]
    assert chunks == ["fine", ""] and len(provider.streamed) == 2


async def test_a_failure_after_text_went_out_is_not_retried() -> None:
    provider = StreamingFake(["half ", "never"], fail_after=1)
    pieces: list[str] = []
    async with engine_for(provider, [generator()]) as engine:
        with pytest.raises(ExceptionGroup) as failed:
            async for chunk in engine.stream("Hi?"):
                pieces.append(chunk.text)  # noqa: PERF401 (kept up to the failure)
    assert pieces == ["half "]  # nothing repeated, nothing after the failure
    assert len(provider.streamed) == 1
    assert failed.value.trace is not None  # type: ignore[attr-defined]
    assert failed.value.trace.failed_calls == 1  # type: ignore[attr-defined]


async def test_leaving_the_loop_cancels_the_run() -> None:
    provider = StreamingFake(["first ", "second"], hold=anyio.Event())
    async with engine_for(provider, [generator()]) as engine:
        async with engine.stream("Hi?") as stream:
            async for chunk in stream:
                assert chunk.text == "first "
                break
        assert provider.cancelled == 1


async def test_overrides_apply_to_the_answer_layer_only() -> None:
    provider = StreamingFake(["x"])
    fuser = {"type": "fuser", "model": "f", "model_type": "Fake_API", "max_tokens": 100}
    async with engine_for(provider, [generator(samples=2)], [fuser]) as engine:
        await engine.generate("Hi?", temperature=0.0, max_tokens=12)
        with pytest.raises(Exception, match="temperature"):
            await engine.generate("Hi?", temperature=5.0)
    assert [(r.model, r.temperature, r.max_tokens) for r in provider.sent] == [
        ("g", 0.7, 2048),
        ("g", 0.7, 2048),
        ("f", 0.0, 12),
    ]


async def test_a_plain_callback_is_called_and_a_non_callable_refused_before_any_call() -> None:
    """``on_delta=pieces.append`` (or print) failed after the call was made ('object
    NoneType can't be used in an await expression'); a non-callable failed mid-run too
    (found by the new-user test)."""
    provider = StreamingFake(["The ", "answer"])
    async with engine_for(provider, [generator()]) as engine:
        pieces: list[str] = []
        result = await engine.generate("Hi?", on_delta=pieces.append)
        assert pieces == ["The ", "answer"] and result.text == "The answer"
        with pytest.raises(InvalidInputError, match="on_delta is str: give a callable"):
            await engine.generate("Again?", on_delta="print")  # type: ignore[arg-type]
    assert len(provider.streamed) == 1  # the refused run sent nothing
