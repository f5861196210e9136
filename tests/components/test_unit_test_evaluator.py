"""Unit test evaluator: verdict parsing, scoring, first_k/first_pass/top_k, fallbacks."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from archon_async.components._common import PARSE_RETRIES, UNIT_TESTS_PHRASE
from archon_async.components.formats import UNIT_TEST_EVALUATOR_MARKER, render_unit_test_verdicts
from archon_async.components.prompts import unit_test_evaluator_prompt
from archon_async.components.unit_test_evaluator import UnitTestEvaluator, parse_unit_test_verdicts
from archon_async.core import ConfigError, Message, ProviderServerError

TESTS = ["The answer states 4", "The answer is one word", "The answer is lowercase"]
# How many tests each candidate passes.
PASSES = {"four": 3, "4": 2, "Four": 2, "five": 0, "4 (four)": 1}


def candidate_in(prompt: str) -> str:
    for line in prompt.splitlines():
        if line.startswith("Candidate response: "):
            return line.removeprefix("Candidate response: ")
    raise AssertionError("no candidate in prompt")


def evaluate(messages: list[Message]) -> str:
    prompt = messages[-1]["content"]
    assert UNIT_TEST_EVALUATOR_MARKER in prompt
    passed = PASSES[candidate_in(prompt)]
    return "Reasoning...\n" + render_unit_test_verdicts([i < passed for i in range(len(TESTS))])


@pytest.mark.parametrize(
    ("reply", "verdicts"),
    [
        (render_unit_test_verdicts([True, False, True]), [True, False, True]),
        # Reasoning mentions tests first; the final list wins.
        (
            "Unit Test #1 passes since it says 4.\nUnit Test #2: the answer fails this.\n\n"
            "Unit Test #1: [Failed]\nUnit Test #2: [Passed]\nUnit Test #3: [Passed]",
            [False, True, True],
        ),
        (
            "**Unit Test 1:** PASSED\n**Unit Test 2:** failed\nUnit Test 3: Fail",
            [True, False, False],
        ),
        ("Unit Test #1: [Passed]\nUnit Test #3: [Failed]", [True, None, False]),
        ("Unit Test #1: [Passed] [Failed]\nUnit Test #2:\n[Passed]", [None, True, None]),
        ("The response is great.", [None, None, None]),
    ],
)
def test_parse_unit_test_verdicts(reply: str, verdicts: list[bool | None]) -> None:
    assert parse_unit_test_verdicts(reply, 3) == verdicts


def test_parse_unit_test_verdicts_ignores_a_number_too_long_for_int() -> None:
    reply = "Unit Test #" + "9" * 5000 + ": [Passed]\nUnit Test #1: [Failed]"
    assert parse_unit_test_verdicts(reply, 2) == [False, None]


def state_of(*candidates: str) -> dict[str, Any]:
    return {"candidates": list(candidates), "unit_tests": TESTS}


async def test_ranks_by_score_ties_as_archon_sorts_them(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("unit_test_evaluator"), evaluate)
    candidates = ["five", "4", "four", "Four"]
    update = await UnitTestEvaluator(ctx.spec).run(ctx, state_of(*candidates))
    scores = [PASSES[c] for c in candidates]
    # Archon: sorted(zip(verdict_scores, candidate_responses), reverse=True)
    archon = [c for _, c in sorted(zip(scores, candidates, strict=True), reverse=True)]
    assert update == {"candidates": archon} == {"candidates": ["four", "Four", "4", "five"]}
    assert len(ctx.requests) == 4
    prompt = ctx.requests[0].prompt
    assert all(f"Unit Test #{n}: {t}" in prompt for n, t in enumerate(TESTS, 1))


async def test_top_k(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("unit_test_evaluator", top_k=2), evaluate)
    update = await UnitTestEvaluator(ctx.spec).run(ctx, state_of("five", "4", "four"))
    assert update == {"candidates": ["four", "4"]}


async def test_candidates_are_judged_concurrently(make_ctx: Any, spec: Any, barrier: Any) -> None:
    gate = barrier(3)

    async def reply(messages: list[Message]) -> str:
        await gate.wait()
        return evaluate(messages)

    ctx = make_ctx(spec("unit_test_evaluator"), reply)
    with anyio.fail_after(5):
        await UnitTestEvaluator(ctx.spec).run(ctx, state_of("five", "4", "four"))


async def test_first_k_takes_all_passing_in_candidate_order(make_ctx: Any, spec: Any) -> None:
    passes = dict(PASSES, **{"FOUR": 3})
    ctx = make_ctx(
        spec("unit_test_evaluator", first_k=1),
        lambda m: render_unit_test_verdicts(
            [i < passes[candidate_in(m[-1]["content"])] for i in range(3)]
        ),
    )
    update = await UnitTestEvaluator(ctx.spec).run(ctx, state_of("4", "FOUR", "four"))
    assert update == {"candidates": ["FOUR"]}


async def test_first_pass_means_first_k_1(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("unit_test_evaluator", first_pass=True, top_k=1), evaluate)
    evaluator = UnitTestEvaluator(ctx.spec)
    assert evaluator.first_k == 1
    assert await evaluator.run(ctx, state_of("4", "four")) == {"candidates": ["four"]}


async def test_first_k_falls_back_to_ranking(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("unit_test_evaluator", first_k=2, top_k=2), evaluate)
    update = await UnitTestEvaluator(ctx.spec).run(ctx, state_of("five", "4", "four"))
    assert update == {"candidates": ["four", "4"]}
    assert ctx.notes == [{"event": "unit_test_first_k_fallback", "passing": 1, "first_k": 2}]


def test_first_pass_contradicting_first_k_is_a_config_error(spec: Any) -> None:
    with pytest.raises(ConfigError, match="first_pass"):
        UnitTestEvaluator(spec("unit_test_evaluator", first_pass=True, first_k=3))


async def test_remove_unit_tests_from_prompt(make_ctx: Any, spec: Any) -> None:
    for remove in (False, True):
        ctx = make_ctx(spec("unit_test_evaluator", remove_unit_tests_from_prompt=remove), evaluate)
        await UnitTestEvaluator(ctx.spec).run(ctx, state_of("four"))
        prompt = ctx.requests[0].prompt
        assert "Query: What is 2 + 2?" in prompt
        assert (UNIT_TESTS_PHRASE in prompt) is not remove


async def test_unparsable_is_retried_then_scores_zero(make_ctx: Any, spec: Any) -> None:
    def reply(messages: list[Message]) -> str:
        if candidate_in(messages[-1]["content"]) == "four":
            return "What a lovely answer."
        return evaluate(messages)

    ctx = make_ctx(spec("unit_test_evaluator"), reply)
    update = await UnitTestEvaluator(ctx.spec).run(ctx, state_of("four", "4 (four)"))
    assert update == {"candidates": ["4 (four)", "four"]}
    assert len(ctx.requests) == 2 + PARSE_RETRIES
    assert ctx.events() == ["unit_test_eval_retry"] * PARSE_RETRIES + ["unit_test_eval_unparsable"]


async def test_incomplete_verdicts_count_missing_as_failed(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("unit_test_evaluator", first_k=1), lambda m: "Unit Test #1: [Passed]")
    update = await UnitTestEvaluator(ctx.spec).run(ctx, state_of("four"))
    assert update == {"candidates": ["four"]}  # fallback ranking: no candidate passes all
    assert "unit_test_verdicts_incomplete" in ctx.events()
    assert ctx.notes[0]["missing"] == [2, 3]


async def test_failed_call_scores_zero(make_ctx: Any, spec: Any) -> None:
    def reply(messages: list[Message]) -> str:
        if candidate_in(messages[-1]["content"]) == "four":
            raise ProviderServerError("down", status_code=500)
        return evaluate(messages)

    ctx = make_ctx(spec("unit_test_evaluator"), reply)
    update = await UnitTestEvaluator(ctx.spec).run(ctx, state_of("four", "4 (four)"))
    assert update == {"candidates": ["4 (four)", "four"]}
    assert ctx.events() == ["unit_test_eval_failed"]


async def test_every_call_failing_raises(make_ctx: Any, spec: Any) -> None:
    def reply(messages: list[Message]) -> str:
        raise ProviderServerError("down", status_code=500)

    ctx = make_ctx(spec("unit_test_evaluator"), reply)
    with pytest.raises(ProviderServerError):
        await UnitTestEvaluator(ctx.spec).run(ctx, state_of("four", "4"))


@pytest.mark.parametrize(
    ("settings", "kept"),
    [({}, ["a", "b", "c"]), ({"top_k": 2}, ["a", "b"]), ({"first_pass": True, "top_k": 2}, ["a"])],
)
async def test_no_unit_tests_passes_the_candidates_on_without_calls(
    make_ctx: Any, spec: Any, settings: dict[str, Any], kept: list[str]
) -> None:
    ctx = make_ctx(spec("unit_test_evaluator", **settings), evaluate)
    update = await UnitTestEvaluator(ctx.spec).run(ctx, {"candidates": ["a", "b", "c"]})
    assert update == {"candidates": kept}  # every candidate passes its zero tests
    assert ctx.requests == []
    assert ctx.notes == [{"event": "unit_test_evaluator_without_tests", "candidates": 3}]


async def test_a_copy_of_the_prompt_example_is_no_verdict(make_ctx: Any, spec: Any) -> None:
    prompt = unit_test_evaluator_prompt("q", "four", TESTS)
    example = next(line for line in prompt.splitlines() if line.startswith("Unit Test #N"))
    replies = iter([example, render_unit_test_verdicts([True, True, True])])
    ctx = make_ctx(spec("unit_test_evaluator"), lambda m: next(replies))
    update = await UnitTestEvaluator(ctx.spec).run(ctx, state_of("four"))
    assert update == {"candidates": ["four"]}
    assert ctx.events() == ["unit_test_eval_retry"]
    assert parse_unit_test_verdicts(example, 3) == [None, None, None]
