"""Unit test generator: prompt, tolerant parsing, cap (every test without one, as Archon),
copied examples, bounded retries, truncated replies, going on without tests."""

from __future__ import annotations

from typing import Any

import pytest

from archon_async.components._common import PARSE_RETRIES
from archon_async.components.formats import UNIT_TEST_GENERATOR_MARKER, render_unit_tests
from archon_async.components.prompts import UNIT_TEST_GENERATOR_SYSTEM
from archon_async.components.unit_test_generator import (
    UnitTestGenerator,
    is_placeholder,
    parse_unit_tests,
)
from archon_async.core import ChatResponse

TESTS = ["The answer states 4", "The answer is one word"]


@pytest.mark.parametrize(
    "reply",
    [
        render_unit_tests(TESTS),
        "Here you go:\n**Unit Test #1:** The answer states 4\n**Unit Test #2:** "
        "The answer is one word\nHope this helps.",
        "Unit Test 1 - The answer states 4\nUnit Test 2 - The answer is one word",
        "['The answer states 4', 'The answer is one word']",
        'Sure:\n```python\n[\n  "The answer states 4",\n  "The answer is one word",\n]\n```',
        "1. The answer states 4\n2) 'The answer is one word'",
        "- The answer states 4\n* The answer is one word",
    ],
)
def test_parse_unit_tests_formats(reply: str) -> None:
    assert parse_unit_tests(reply) == TESTS


@pytest.mark.parametrize("reply", ["", "I cannot write tests for this.", "[1, 2, 3]"])
def test_parse_unit_tests_finds_none(reply: str) -> None:
    assert parse_unit_tests(reply) == []


async def test_writes_unit_tests_only(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("unit_test_generator", unit_test_cap=2), lambda m: render_unit_tests(TESTS))
    update = await UnitTestGenerator(ctx.spec).run(ctx, {"candidates": ["kept as is"]})
    assert update == {"unit_tests": TESTS}
    (call,) = ctx.requests
    assert call.messages[0] == {"role": "system", "content": UNIT_TEST_GENERATOR_SYSTEM}
    assert UNIT_TEST_GENERATOR_MARKER in call.prompt
    assert "exactly 2 unit tests" in call.prompt
    assert "Query: What is 2 + 2?" in call.prompt
    assert ctx.notes == []


async def test_caps_the_number_of_tests(make_ctx: Any, spec: Any) -> None:
    many = [f"The answer mentions {i}" for i in range(15)]
    ctx = make_ctx(spec("unit_test_generator", unit_test_cap=3), lambda m: render_unit_tests(many))
    assert (await UnitTestGenerator(ctx.spec).run(ctx, {}))["unit_tests"] == many[:3]


async def test_without_a_cap_every_test_is_kept_as_in_archon(make_ctx: Any, spec: Any) -> None:
    many = [f"The answer mentions {i}" for i in range(15)]
    ctx = make_ctx(spec("unit_test_generator"), lambda m: render_unit_tests(many))
    update = await UnitTestGenerator(ctx.spec).run(ctx, {})
    assert update["unit_tests"] == many
    assert "exactly" not in ctx.requests[0].prompt
    assert ctx.notes == []


async def test_fewer_than_the_cap_are_kept_and_noted(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("unit_test_generator", unit_test_cap=5), lambda m: render_unit_tests(TESTS))
    assert (await UnitTestGenerator(ctx.spec).run(ctx, {}))["unit_tests"] == TESTS
    assert ctx.notes == [{"event": "unit_tests_below_cap", "got": 2, "cap": 5}]


async def test_retries_then_succeeds(make_ctx: Any, spec: Any) -> None:
    replies = iter(["Let me think.", render_unit_tests(TESTS)])
    ctx = make_ctx(spec("unit_test_generator"), lambda m: next(replies))
    assert (await UnitTestGenerator(ctx.spec).run(ctx, {}))["unit_tests"] == TESTS
    assert ctx.events() == ["unit_test_parse_retry"]


async def test_no_tests_after_bounded_retries_goes_on_without_tests(
    make_ctx: Any, spec: Any
) -> None:
    ctx = make_ctx(spec("unit_test_generator"), lambda m: "No.")
    update = await UnitTestGenerator(ctx.spec).run(ctx, {"candidates": ["a"]})
    assert update == {}  # nothing written: the state passes on
    assert len(ctx.requests) == 1 + PARSE_RETRIES
    assert ctx.events() == ["unit_test_parse_retry"] * PARSE_RETRIES + ["unit_tests_unparsable"]
    last = ctx.notes[-1]
    assert last["raw"] == "No." and last["truncated"] is False
    assert "go on without unit tests" in last["reason"]


@pytest.mark.parametrize(
    "test",
    [
        "<a statement a correct answer makes true>",
        "The answer states ...",
        "The answer mentions \u2026",
        "<another one>.",
    ],
)
def test_placeholders(test: str) -> None:
    assert is_placeholder(test)


@pytest.mark.parametrize(
    "test", ["The answer states that 2 + 2 = 4", "The answer lists 1, 2, 3, ... up to 10"]
)
def test_real_tests_are_not_placeholders(test: str) -> None:
    assert not is_placeholder(test)


async def test_a_copy_of_the_prompt_example_is_a_failed_parse(make_ctx: Any, spec: Any) -> None:
    example = next(
        line for line in _prompt_of(make_ctx, spec).splitlines() if line.startswith("Unit Test #1")
    )
    replies = iter([example, render_unit_tests(TESTS)])
    ctx = make_ctx(spec("unit_test_generator"), lambda m: next(replies))
    update = await UnitTestGenerator(ctx.spec).run(ctx, {})
    assert update == {"unit_tests": TESTS}
    assert len(ctx.requests) == 2
    assert ctx.events() == ["unit_test_parse_retry", "unit_test_placeholders_dropped"]


async def test_placeholders_among_real_tests_are_dropped(make_ctx: Any, spec: Any) -> None:
    reply = render_unit_tests(["The answer states ...", *TESTS])
    ctx = make_ctx(spec("unit_test_generator"), lambda m: reply)
    assert await UnitTestGenerator(ctx.spec).run(ctx, {}) == {"unit_tests": TESTS}
    assert ctx.notes == [
        {"event": "unit_test_placeholders_dropped", "placeholders": ["The answer states ..."]}
    ]


async def test_a_truncated_unparsable_reply_is_not_asked_again(make_ctx: Any, spec: Any) -> None:
    cut = ChatResponse(text="Let me think about which tests", finish_reason="length")
    ctx = make_ctx(spec("unit_test_generator", max_tokens=64), lambda m: cut)
    assert await UnitTestGenerator(ctx.spec).run(ctx, {}) == {}
    assert len(ctx.requests) == 1  # the same request would be cut at the same length
    (note,) = ctx.notes
    assert note["event"] == "unit_tests_unparsable" and note["truncated"] is True
    assert "cut at max_tokens (64): raise max_tokens" in note["reason"]


def _prompt_of(make_ctx: Any, spec: Any) -> str:
    from archon_async.components.prompts import unit_test_generator_prompt

    return unit_test_generator_prompt("What is 2 + 2?", None)
