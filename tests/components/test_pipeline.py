"""The built-in components inside the real engine, answering by task marker (no network)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from archon_async import ChatRequest, Engine, Result
from archon_async.components._common import UNIT_TESTS_PHRASE
from archon_async.components._first_k import DEFAULT_FIRST_K_WINDOW
from archon_async.components.formats import (
    CRITIC_MARKER,
    FUSER_MARKER,
    RANKER_MARKER,
    UNIT_TEST_EVALUATOR_MARKER,
    UNIT_TEST_GENERATOR_MARKER,
    VERIFIER_REASONING_MARKER,
    VERIFIER_VERDICT_MARKER,
    render_critiques,
    render_ranking,
    render_unit_test_verdicts,
    render_unit_tests,
    render_verdict,
)
from tests.conftest import ARCHON_CONFIGS, FakeProvider, fake_registry


def answer(request: ChatRequest) -> str:
    """Reply to every task the way a cooperative model would, from the prompt alone."""
    prompt = request.messages[-1]["content"]
    count = len(set(re.findall(r"^\[(\d+)\] ", prompt, re.M)))
    if FUSER_MARKER in prompt:
        return "fused answer"
    if RANKER_MARKER in prompt:
        return "Reasons.\nRanking: " + render_ranking(list(range(count, 0, -1)))
    if CRITIC_MARKER in prompt:
        return render_critiques([("clear", "short")] * count)
    if VERIFIER_REASONING_MARKER in prompt:
        return "The steps hold."
    if VERIFIER_VERDICT_MARKER in prompt:
        return render_verdict(True)
    if UNIT_TEST_GENERATOR_MARKER in prompt:
        return render_unit_tests(["The answer states 4", "The answer is short"])
    if UNIT_TEST_EVALUATOR_MARKER in prompt:
        return render_unit_test_verdicts([True, True])
    return f"candidate from {request.model}"


def retyped(path: Path) -> dict[str, object]:
    """An Archon config with every model served by the fake provider."""
    config = json.loads(path.read_text())
    layers = config["layers"]
    for layer in layers:
        for component in layer if isinstance(layer, list) else layer["models"]:
            if "pairrm" not in component["model"].lower():
                component["model_type"] = "Fake_API"
    return dict(config)


CONFIGS = [
    "archon-70Bx10_SOTA_1_samples_then_unit_test_generation_then_unit_test_evaluation_then_fuse",
    "Llama-3.1-405B_10samples_rank_top_3_then_critic_then_fuse",
    "archon-70Bx8_1_samples_then_verifier",
]


@pytest.mark.parametrize("name", CONFIGS)
async def test_archon_configs_run_end_to_end(name: str) -> None:
    provider = FakeProvider(answer)
    path = ARCHON_CONFIGS / f"{name}.json"
    async with Engine(retyped(path), registry=fake_registry(provider)) as engine:
        result = await engine.generate("What is 2 + 2?")
    assert result.text
    markers = [FUSER_MARKER, RANKER_MARKER, CRITIC_MARKER, VERIFIER_VERDICT_MARKER]
    used = {m for r in provider.requests for m in markers if m in r.messages[-1]["content"]}
    assert used  # the later layers really prompted their tasks


async def test_generators_see_the_unit_tests_of_an_earlier_layer() -> None:
    provider = FakeProvider(answer)
    config = {
        "name": "ut",
        "layers": [
            [{"type": "unit_test_generator", "model": "m", "model_type": "Fake_API"}],
            [{"type": "generator", "model": "m", "model_type": "Fake_API", "samples": 2}],
            [
                {
                    "type": "unit_test_evaluator",
                    "model": "m",
                    "model_type": "Fake_API",
                    "remove_unit_tests_from_prompt": True,
                    "first_pass": True,
                }
            ],
        ],
    }
    async with Engine(config, registry=fake_registry(provider)) as engine:
        result = await engine.generate("What is 2 + 2?")
    assert result.text == "candidate from m"
    tasks = (UNIT_TEST_GENERATOR_MARKER, UNIT_TEST_EVALUATOR_MARKER)
    queries = [
        r.messages[-1]["content"]
        for r in provider.requests
        if not any(marker in r.messages[-1]["content"] for marker in tasks)
    ]
    expected = f"What is 2 + 2? {UNIT_TESTS_PHRASE} \n- The answer states 4\n- The answer is short"
    assert queries == [expected, expected]
    evaluator_prompt = provider.requests[-1].messages[-1]["content"]
    assert UNIT_TEST_EVALUATOR_MARKER in evaluator_prompt
    assert UNIT_TESTS_PHRASE not in evaluator_prompt


def component(type_: str, **settings: object) -> dict[str, object]:
    return {"type": type_, "model": "m", "model_type": "Fake_API", **settings}


async def test_components_after_a_unit_test_generator_in_its_layer_see_its_tests() -> None:
    """Archon runs a layer's components in order and the generator appends its tests to
    the query, so a generator listed after it reads them and one listed before does not."""
    provider = FakeProvider(answer)
    config = {
        "name": "same-layer",
        "layers": [
            [
                component("generator", model="before"),
                component("unit_test_generator"),
                component("generator", model="after"),
            ],
            [component("fuser")],
        ],
    }
    async with Engine(config, registry=fake_registry(provider)) as engine:
        result = await engine.generate("What is 2 + 2?")
    tail = f" {UNIT_TESTS_PHRASE} \n- The answer states 4\n- The answer is short"
    by_model = {r.model: r.messages[-1]["content"] for r in provider.requests}
    assert by_model["before"] == "What is 2 + 2?"
    assert by_model["after"] == "What is 2 + 2?" + tail
    asked = [r.model for r in provider.requests]
    assert asked.index("after") > asked.index("m")  # only once the tests were written
    fuser_prompt = provider.requests[-1].messages[-1]["content"]
    assert FUSER_MARKER in fuser_prompt and "What is 2 + 2?" + tail in fuser_prompt
    layer = result.trace.layers[0]
    assert layer.components[2].notes == [{"event": "waited_for_unit_tests", "generators": [1]}]
    assert layer.components[0].notes == []
    assert result.text == "fused answer"


async def test_two_unit_test_generators_append_in_the_order_archon_does() -> None:
    replies = iter([["first test"], ["second test"]])

    def reply(request: ChatRequest) -> str:
        if UNIT_TEST_GENERATOR_MARKER in request.messages[-1]["content"]:
            return render_unit_tests(next(replies))
        return answer(request)

    provider = FakeProvider(reply)
    config = {
        "name": "two",
        "layers": [
            [component("unit_test_generator")],
            [component("unit_test_generator"), component("generator", model="g")],
        ],
    }
    async with Engine(config, registry=fake_registry(provider)) as engine:
        await engine.generate("Q?")
    second_generator_query = provider.requests[1].messages[-1]["content"]
    assert second_generator_query.endswith(f"Q? {UNIT_TESTS_PHRASE} \n- first test")
    (g,) = [r for r in provider.requests if r.model == "g"]
    assert g.messages[-1]["content"] == (
        f"Q? {UNIT_TESTS_PHRASE} \n- first test {UNIT_TESTS_PHRASE} \n- second test"
    )


async def test_every_reply_is_stripped_as_archon_strips_it() -> None:
    def padded(request: ChatRequest) -> str:
        return f"\n  {answer(request)}  \n\n"

    provider = FakeProvider(padded)
    config = {
        "name": "strip",
        "layers": [
            [component("generator", samples=2)],
            [component("critic")],
            [component("fuser")],
        ],
    }
    async with Engine(config, registry=fake_registry(provider)) as engine:
        result = await engine.generate("What is 2 + 2?")
    layers = result.trace.layers
    assert layers[0].components[0].outputs["candidates"] == ["candidate from m"] * 2
    assert all(c == c.strip() for c in layers[1].components[0].outputs["critiques"])
    assert "[1] candidate from m\n" in provider.requests[-1].messages[-1]["content"]
    assert result.text == "fused answer"


async def run_with_one_task_unparsable(
    marker: str, text: str, *layers: list[dict[str, object]]
) -> tuple[Result, FakeProvider]:
    """Run layers where every reply to the task of ``marker`` is ``text``."""

    def reply(request: ChatRequest) -> str:
        if marker in request.messages[-1]["content"]:
            return text
        return answer(request)

    provider = FakeProvider(reply)
    config = {"name": "degrades", "layers": list(layers)}
    async with Engine(config, registry=fake_registry(provider)) as engine:
        return await engine.generate("What is 2 + 2?"), provider


async def test_an_unparsable_critic_does_not_lose_the_run() -> None:
    result, provider = await run_with_one_task_unparsable(
        CRITIC_MARKER,
        "Both answers are fine.",
        [component("generator", samples=2)],
        [component("critic")],
        [component("fuser")],
    )
    assert result.text == "fused answer"
    critic = result.trace.layers[1].components[0]
    assert critic.error is None and critic.outputs == {"critiques": []}
    assert [n["event"] for n in critic.notes][-1] == "critic_unparsable"
    fuser_prompt = provider.requests[-1].messages[-1]["content"]
    assert FUSER_MARKER in fuser_prompt and "Critique of" not in fuser_prompt


async def test_unparsable_unit_tests_do_not_lose_the_run() -> None:
    result, provider = await run_with_one_task_unparsable(
        UNIT_TEST_GENERATOR_MARKER,
        "Tests are not needed here.",
        [component("generator", samples=3)],
        [component("unit_test_generator")],
        [component("unit_test_evaluator", first_pass=True, top_k=1)],
    )
    assert result.text == "candidate from m"
    events = [
        n["event"] for layer in result.trace.layers for c in layer.components for n in c.notes
    ]
    assert "unit_tests_unparsable" in events and "unit_test_evaluator_without_tests" in events
    assert not any(
        UNIT_TEST_EVALUATOR_MARKER in r.messages[-1]["content"] for r in provider.requests
    )


async def test_published_100_sample_first_pass_config_stops_as_archon_does() -> None:
    """archon-gpt-4o-sample_100_..._first_pass: 100 candidates, then first_pass. Archon
    judges candidates one by one until the first that passes all 5 tests; so do we, give or
    take one window of calls, and the answer is that candidate."""
    name = (
        "archon-gpt-4o-sample_100_then_unit_test_generation_5_with_gpt-4o"
        "_then_unit_test_evaluation_with_gpt-4o_first_pass"
    )
    drawn = iter(range(1000))
    passes = {23, 24, 71}  # by the candidate's number

    def reply(request: ChatRequest) -> str:
        prompt = request.messages[-1]["content"]
        if UNIT_TEST_GENERATOR_MARKER in prompt:
            return render_unit_tests([f"Test {i}" for i in range(5)])
        if UNIT_TEST_EVALUATOR_MARKER in prompt:
            number = int(re.findall(r"Candidate response: answer (\d+)", prompt)[0])
            return render_unit_test_verdicts([number in passes] * 5)
        return f"answer {next(drawn)}"

    provider = FakeProvider(reply)
    config = retyped(ARCHON_CONFIGS / f"{name}.json")
    async with Engine(config, registry=fake_registry(provider)) as engine:
        result = await engine.generate("Write a function that adds two numbers.")
    candidates = result.trace.layers[1].components[0].outputs["candidates"]
    assert len(candidates) == 100
    first = next(i for i, c in enumerate(candidates) if int(c.split()[1]) in passes)
    assert result.text == candidates[first]  # Archon's choice
    judged = [
        r for r in provider.requests if UNIT_TEST_EVALUATOR_MARKER in r.messages[-1]["content"]
    ]
    assert first + 1 <= len(judged) <= first + 1 + DEFAULT_FIRST_K_WINDOW - 1
    assert len(judged) < 100
