"""The engine: layers in order, concurrency inside a layer, state, trace, cancellation."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import anyio
import pytest

from archon_async import (
    Architecture,
    ArchonError,
    ChatRequest,
    ComponentError,
    ConfigError,
    Engine,
    InvalidInputError,
    LayerFailedGroup,
    ProviderServerError,
    Registry,
)
from archon_async.core import ComponentContext, State
from tests.conftest import FakeProvider, fake_registry, last_user


def spec(type_: str, model: str = "m", **extra: Any) -> dict[str, Any]:
    return {
        "type": type_,
        "model": model,
        "model_type": "Fake_API",
        "temperature": 0.5,
        "max_tokens": 32,
        **extra,
    }


async def sampler(ctx: ComponentContext, state: State) -> dict[str, Any]:
    """A test generator: ``samples`` concurrent calls, one candidate each."""

    async def one(index: int) -> str:
        reply = await ctx.complete(
            [
                *ctx.conversation[:-1],
                {"role": "user", "content": f"{ctx.conversation[-1]['content']}#{index}"},
            ]
        )
        return reply.text

    return {"candidates": await ctx.map(one, list(range(ctx.spec.samples)))}


async def joiner(ctx: ComponentContext, state: State) -> dict[str, Any]:
    """A test fuser: one call listing the previous candidates."""
    reply = await ctx.complete(
        [{"role": "user", "content": "JOIN " + "|".join(state["candidates"])}]
    )
    return {"candidates": [reply.text]}


# For tests about what a failure leaves, not about backing off (which sleeps for real).
NO_RETRIES = {"Fake_API": {"max_retries": 0}}


def registry_with(provider: FakeProvider) -> Registry:
    return fake_registry(provider).add_component("sampler", sampler).add_component("joiner", joiner)


async def test_layers_run_in_order_and_samples_run_concurrently() -> None:
    release = anyio.Event()
    seen: list[str] = []

    async def reply(request: ChatRequest) -> str:
        text = last_user(request)
        seen.append(text)
        if text.startswith("q#"):
            if len(seen) == 10:  # only the tenth sample releases them all: all were in flight
                release.set()
            await release.wait()
            return f"answer {text[-1]}"
        return "fused"

    provider = FakeProvider(reply)
    registry = registry_with(provider)
    architecture = Architecture.from_dict(
        {"name": "t", "layers": [[spec("sampler", samples=10)], [spec("joiner", model="f")]]},
        registry=registry,
    )
    async with Engine(architecture) as engine:
        with anyio.fail_after(5):
            result = await engine.generate("q")
    assert result.text == "fused"
    assert provider.max_in_flight == 10
    assert seen[-1] == "JOIN " + "|".join(f"answer {i}" for i in range(10))
    assert [len(layer.components[0].calls) for layer in result.trace.layers] == [10, 1]
    assert result.trace.call_count == 11
    assert result.trace.input_tokens == 110 and result.trace.output_tokens == 55
    assert result.trace.layers[1].components[0].outputs == {"candidates": ["fused"]}
    assert provider.requests[0].temperature == 0.5 and provider.requests[0].max_tokens == 32
    assert provider.closed


async def test_a_hundred_samples_are_all_in_flight_with_default_settings() -> None:
    # Archon's published configs draw 100 samples in one layer; they must go out at once.
    release = anyio.Event()

    async def reply(request: ChatRequest) -> str:
        if provider.in_flight == 100:
            release.set()
        await release.wait()
        return "a"

    provider = FakeProvider(reply)
    architecture = Architecture.from_dict(
        {"layers": [[spec("sampler", samples=100)]]}, registry=registry_with(provider)
    )
    async with Engine(architecture) as engine:
        with anyio.fail_after(5):
            result = await engine.generate("q")
    assert provider.max_in_flight == 100
    assert len(result.candidates) == 100


async def test_components_of_a_layer_run_together_and_merge_in_config_order() -> None:
    started: list[str] = []
    both = anyio.Event()

    async def reply(request: ChatRequest) -> str:
        started.append(request.model)
        if len(started) == 2:
            both.set()
        await both.wait()
        if request.model == "a":
            await anyio.sleep(0.01)  # finishes last, still merged first
        return request.model.upper()

    provider = FakeProvider(reply)
    architecture = Architecture.from_dict(
        {"layers": [[spec("sampler", model="a"), spec("sampler", model="b")]]},
        registry=registry_with(provider),
    )
    async with Engine(architecture) as engine:
        with anyio.fail_after(5):
            result = await engine.generate("q")
    assert result.candidates == ("A", "B")
    assert result.trace.final_choice is not None and result.trace.final_choice.candidates == 2


async def test_unwritten_state_keys_pass_through_and_custom_keys_flow() -> None:
    async def tag(ctx: ComponentContext, state: State) -> dict[str, Any]:
        return {"tags": ["seen:" + state["candidates"][0]], "critiques": ["c1"]}

    async def read(ctx: ComponentContext, state: State) -> dict[str, Any]:
        return {
            "candidates": [f"{state['candidates'][0]}+{state['tags'][0]}+{state['critiques'][0]}"]
        }

    provider = FakeProvider(lambda request: "x")
    registry = registry_with(provider).add_component("tag", tag).add_component("read", read)
    architecture = Architecture.from_dict(
        {
            "layers": [
                [spec("sampler")],
                [{"type": "tag", "model": "-"}],
                [{"type": "read", "model": "-"}],
            ]
        },
        registry=registry,
    )
    async with Engine(architecture) as engine:
        result = await engine.generate("q")
    # layer 1 wrote no candidates: layer 0's passed through to layer 2, with tags and critiques.
    assert result.text == "x+seen:x+c1"


async def test_custom_component_class_and_custom_generator() -> None:
    calls: list[ChatRequest] = []

    async def my_model(request: ChatRequest) -> str:
        calls.append(request)
        return f"custom says {request.messages[-1]['content']}"

    class Shout:
        def __init__(self, component_spec: Any) -> None:
            self.suffix = component_spec.option("suffix", "!")

        async def run(self, ctx: ComponentContext, state: State) -> dict[str, Any]:
            return {"candidates": [c.upper() + self.suffix for c in state["candidates"]]}

    registry = Registry.default().add_generator("My_API", my_model).add_component("shout", Shout)
    registry.add_component("sampler", sampler)
    architecture = Architecture.from_dict(
        {
            "layers": [
                [{**spec("sampler"), "model_type": "My_API"}],
                [{"type": "shout", "model": "-", "suffix": "!!"}],
            ]
        },
        registry=registry,
    )
    async with Engine(architecture) as engine:
        result = await engine.generate([{"role": "user", "content": "hi"}])
    assert result.text == "CUSTOM SAYS HI#0!!"
    assert calls[0].messages[0]["role"] == "system"  # a system message is added, as in Archon


async def test_archon_style_generators_and_an_async_callable_component() -> None:
    """Archon's add_generator takes ``fn(model=, messages=, max_tokens=, temperature=)``."""
    threads: list[str] = []

    def sync_model(model: str, messages: list[dict[str, str]], max_tokens: int, temperature: float):
        threads.append(threading.current_thread().name)
        return f"{model} at {temperature} in {max_tokens}: {messages[-1]['content']}"

    async def async_model(**kwargs: Any) -> str:
        return "async " + kwargs["messages"][-1]["content"]

    class Tag:  # an object with an async __call__, registered as a component
        def __init__(self, tag: str) -> None:
            self.tag = tag

        async def __call__(self, ctx: ComponentContext, state: State) -> dict[str, Any]:
            return {"candidates": [f"{self.tag}{c}" for c in state["candidates"]]}

    registry = (
        Registry.default()
        .add_generator("Sync_API", sync_model)
        .add_generator("Async_API", async_model)
        .add_component("tag", Tag("> "))
        .add_component("sampler", sampler)
    )
    architecture = Architecture.from_dict(
        {
            "layers": [
                [
                    {**spec("sampler", model="s"), "model_type": "Sync_API"},
                    {**spec("sampler", model="a"), "model_type": "Async_API"},
                ],
                [{"type": "tag", "model": "-"}],
            ]
        },
        registry=registry,
    )
    async with Engine(architecture) as engine:
        result = await engine.generate("hi")
    assert result.candidates == ("> s at 0.5 in 32: hi#0", "> async hi#0")
    assert threads and threads[0] != threading.current_thread().name  # off the event loop


def test_registering_something_that_is_neither_shape_fails_clearly() -> None:
    def takes_a_request(request: ChatRequest) -> str:  # sync, our shape: would block the loop
        return "x"

    with pytest.raises(ConfigError, match="async def generate"):
        Registry.default().add_generator("Bad_API", takes_a_request)
    with pytest.raises(ConfigError, match="async __call__"):
        Registry.default().add_component("bad", lambda ctx, state: {})


async def test_cancelling_generate_cancels_every_call_it_started() -> None:
    in_flight = anyio.Event()
    provider_calls: list[str] = []

    async def reply(request: ChatRequest) -> str:
        provider_calls.append(last_user(request))
        if len(provider_calls) == 4:
            in_flight.set()
        await anyio.sleep(60)
        return "never"

    provider = FakeProvider(reply)
    architecture = Architecture.from_dict(
        {"layers": [[spec("sampler", samples=4)]]}, registry=registry_with(provider)
    )
    async with Engine(architecture) as engine:
        before = set(asyncio.all_tasks())
        task = asyncio.create_task(engine.generate("q"))
        with anyio.fail_after(5):
            await in_flight.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        leftover = {t for t in asyncio.all_tasks() - before if not t.done()}
    assert provider.cancelled == 4
    assert provider.in_flight == 0
    assert leftover == set()


async def test_a_failed_component_is_traced_and_a_fully_failed_layer_raises() -> None:
    async def reply(request: ChatRequest) -> str:
        if request.model == "bad":
            raise ProviderServerError("down", status_code=503)
        return "ok"

    provider = FakeProvider(reply)
    registry = registry_with(provider)
    mixed = Architecture.from_dict(
        {"layers": [[spec("sampler", model="bad"), spec("sampler", model="good")]]},
        registry=registry,
    )
    async with Engine(mixed, providers=NO_RETRIES) as engine:
        result = await engine.generate("q")
    assert result.candidates == ("ok",)
    assert "ProviderServerError" in (result.trace.layers[0].components[0].error or "")

    failing = Architecture.from_dict(
        {"layers": [[spec("sampler", model="bad")]]}, registry=registry
    )
    async with Engine(failing, providers=NO_RETRIES) as engine:
        with pytest.raises(LayerFailedGroup) as info:
            await engine.generate("q")
    assert all(isinstance(leaf, ArchonError) for leaf in info.value.exceptions)
    # What the library raises is an ArchonError, layer failures included.
    async with Engine(failing, providers=NO_RETRIES) as engine:
        with pytest.raises(ArchonError):
            await engine.generate("q")


async def test_final_choice_is_seeded_and_recorded() -> None:
    provider = FakeProvider(lambda request: last_user(request))
    architecture = Architecture.from_dict(
        {"layers": [[spec("sampler", samples=5)]]}, registry=registry_with(provider)
    )
    async with Engine(architecture, seed=7) as engine:
        first = await engine.generate("q")
        again = await engine.generate("q")
        other = [await engine.generate("q", seed=s) for s in range(20)]
        prompts = [await engine.generate(f"q{n}") for n in range(20)]
    assert first.text == again.text
    # One seed, many prompts: the pick depends on the prompt too, not one fixed position.
    picks = {result.trace.final_choice.index for result in prompts if result.trace.final_choice}
    assert len(picks) > 1
    assert first.trace.final_choice is not None
    assert first.trace.final_choice.seed == 7
    assert first.text == first.candidates[first.trace.final_choice.index]
    assert len({result.text for result in other}) > 1


async def test_bad_input_fails_before_any_call() -> None:
    provider = FakeProvider(lambda request: "x")
    architecture = Architecture.from_dict(
        {"layers": [[spec("sampler")]]}, registry=registry_with(provider)
    )
    async with Engine(architecture) as engine:
        for bad in (
            "",
            [],
            [{"role": "user"}],
            [{"role": "robot", "content": "x"}],
            [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}],
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
            [{"role": "user", "content": []}],
        ):
            with pytest.raises(InvalidInputError):
                await engine.generate(bad)  # type: ignore[arg-type]
    assert provider.requests == []


async def test_openai_text_parts_are_read_as_text() -> None:
    provider = FakeProvider(lambda request: last_user(request))
    architecture = Architecture.from_dict(
        {"layers": [[spec("sampler")]]}, registry=registry_with(provider)
    )
    parts = [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}]
    async with Engine(architecture) as engine:
        result = await engine.generate([{"role": "user", "content": parts}])
    assert result.text == "first\n\nsecond#0"


async def test_no_candidate_left_is_a_clear_error() -> None:
    async def nothing(ctx: ComponentContext, state: State) -> dict[str, Any]:
        return {"notes": ["n"]}

    registry = Registry.default().add_component("nothing", nothing)
    architecture = Architecture.from_dict(
        {"layers": [[{"type": "nothing", "model": "-"}]]}, registry=registry
    )
    async with Engine(architecture) as engine:
        with pytest.raises(ComponentError, match="no candidate"):
            await engine.generate("q")


def test_generate_sync_runs_without_an_event_loop() -> None:
    provider = FakeProvider(lambda request: "sync answer")
    architecture = Architecture.from_dict(
        {"layers": [[spec("sampler")]]}, registry=registry_with(provider)
    )
    result = Engine(architecture).generate_sync("q")
    assert result.text == "sync answer"
    assert provider.closed


async def test_generate_sync_inside_a_running_loop_uses_a_worker_thread() -> None:
    provider = FakeProvider(lambda request: "from thread")
    architecture = Architecture.from_dict(
        {"layers": [[spec("sampler")]]}, registry=registry_with(provider)
    )
    assert Engine(architecture).generate_sync("q").text == "from thread"


async def test_concurrent_first_calls_open_the_engine_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import archon_async.callpath._callpath as engine_module  # builds the dispatcher

    built: list[object] = []
    real = engine_module.Dispatcher

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(object())
        return real(*args, **kwargs)

    monkeypatch.setattr(engine_module, "Dispatcher", counting)

    async def slow(request: ChatRequest) -> str:
        await anyio.sleep(0.01)
        return "x"

    architecture = Architecture.from_dict(
        {"layers": [[spec("sampler")]]}, registry=registry_with(FakeProvider(slow))
    )
    engine = Engine(architecture)
    try:
        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(engine.generate, "q")
    finally:
        await engine.aclose()
    assert len(built) == 1
