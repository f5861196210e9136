"""The engine's plan of its architecture: what each run reads from it, built once.

The seeds of a run's random choices (worked out only when something draws), the requests
each component's spec makes (its `RequestShape`), and a run's own overrides.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from archon_async import Architecture, Engine
from archon_async._config import ComponentSpec
from archon_async._context import RequestShape
from archon_async._types import ChatRequest, normalize_messages
from archon_async.core import ComponentContext, State
from tests.conftest import FakeProvider, fake_registry, last_user


def spec(type_: str, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "model": "m", "model_type": "Fake_API", **extra}


def run_key(seed: int, prompt: str) -> str:
    """The key of a run's choices, spelled out: ``seed:blake2b-8 of role NUL content NUL``."""
    text = "".join(f"{m['role']}\0{m['content']}\0" for m in normalize_messages(prompt))
    return f"{seed}:{hashlib.blake2b(text.encode(), digest_size=8).hexdigest()}"


async def test_choices_are_seeded_by_the_seed_and_the_prompt_as_before() -> None:
    draws: list[float] = []

    async def drawer(ctx: ComponentContext, state: State) -> dict[str, Any]:
        draws.append(ctx.rng.random())
        replies = [await ctx.complete([{"role": "user", "content": f"c{i}"}]) for i in range(4)]
        return {"candidates": [reply.text for reply in replies]}

    provider = FakeProvider(lambda request: last_user(request))
    registry = fake_registry(provider).add_component("drawer", drawer)
    architecture = Architecture.from_dict(
        {"layers": [[spec("generator")], [spec("generator"), spec("drawer")]]},
        registry=registry,
    )
    async with Engine(architecture, seed=11) as engine:
        result = await engine.generate("What is 2 + 2?")
    key = run_key(11, "What is 2 + 2?")
    # The component at layers[1][1] draws from "key:1:1"; the final pick from "key".
    assert draws == [random.Random(f"{key}:1:1").random()]
    assert result.trace.final_choice is not None
    assert result.trace.final_choice.seed == 11
    assert result.trace.final_choice.index == random.Random(key).randrange(5)
    assert result.text == result.candidates[result.trace.final_choice.index]


def test_a_request_shape_makes_the_request_the_spec_asks_for() -> None:
    full = ComponentSpec.model_validate(
        spec("generator", temperature=0.3, max_tokens=64, top_p=0.9, stop="###",
             base_url="http://127.0.0.1:9/v1", extra_body={"seed": 1})
    )  # fmt: skip
    shape = RequestShape(full)
    messages = [{"role": "user", "content": "q"}]
    assert shape.request(messages) == ChatRequest(
        "m", "Fake_API", messages, 0.3, 64, "http://127.0.0.1:9/v1", {"seed": 1}, 0.9, ("###",)
    )
    # A component's own temperature and budget win over the spec's.
    overridden = shape.request(messages, 1.0, 8)
    assert (overridden.temperature, overridden.max_tokens) == (1.0, 8)
    # A parameter the spec omits is left out, whatever asked for it.
    omitting = ComponentSpec.model_validate(
        spec("generator", temperature=0.3, max_tokens=64, top_p=0.9, stop=["a", "b"],
             omit=["temperature", "max_tokens", "top_p", "stop"])
    )  # fmt: skip
    left_out = RequestShape(omitting).request(messages, 1.0, 8)
    assert (left_out.temperature, left_out.max_tokens, left_out.top_p, left_out.stop) == (
        None,
        None,
        None,
        (),
    )


async def test_a_run_that_overrides_the_answer_layer_sends_its_own_settings() -> None:
    provider = FakeProvider(lambda request: "answer")
    architecture = Architecture.from_dict(
        {"layers": [[spec("generator", temperature=0.5, max_tokens=32)]]},
        registry=fake_registry(provider),
    )
    async with Engine(architecture) as engine:
        await engine.generate("q", temperature=0.0, max_tokens=12)
        await engine.generate("q")  # the plan's own shape again, unchanged by the run above
    sent = [(request.temperature, request.max_tokens) for request in provider.requests]
    assert sent == [(0.0, 12), (0.5, 32)]
