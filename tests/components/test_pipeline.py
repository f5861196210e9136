"""The built-in components inside the real engine, answering by task marker (no network)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from archon_async import ChatRequest, Engine
from archon_async.components._common import UNIT_TESTS_PHRASE
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
