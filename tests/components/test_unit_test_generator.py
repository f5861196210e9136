"""Unit test generator: prompt, tolerant parsing, cap, bounded retries."""

from __future__ import annotations

from typing import Any

import pytest

from archon_async.components._common import PARSE_RETRIES
from archon_async.components.formats import UNIT_TEST_GENERATOR_MARKER, render_unit_tests
from archon_async.components.prompts import UNIT_TEST_GENERATOR_SYSTEM
from archon_async.components.unit_test_generator import (
    DEFAULT_UNIT_TEST_CAP,
    UnitTestGenerator,
    parse_unit_tests,
)
from archon_async.core import OutputParseError

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


async def test_default_cap(make_ctx: Any, spec: Any) -> None:
    many = [f"The answer mentions {i}" for i in range(15)]
    ctx = make_ctx(spec("unit_test_generator"), lambda m: render_unit_tests(many))
    update = await UnitTestGenerator(ctx.spec).run(ctx, {})
    assert update["unit_tests"] == many[:DEFAULT_UNIT_TEST_CAP]
    assert "exactly" not in ctx.requests[0].prompt


async def test_fewer_than_the_cap_are_kept_and_noted(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("unit_test_generator", unit_test_cap=5), lambda m: render_unit_tests(TESTS))
    assert (await UnitTestGenerator(ctx.spec).run(ctx, {}))["unit_tests"] == TESTS
    assert ctx.notes == [{"event": "unit_tests_below_cap", "got": 2, "cap": 5}]


async def test_retries_then_succeeds(make_ctx: Any, spec: Any) -> None:
    replies = iter(["Let me think.", render_unit_tests(TESTS)])
    ctx = make_ctx(spec("unit_test_generator"), lambda m: next(replies))
    assert (await UnitTestGenerator(ctx.spec).run(ctx, {}))["unit_tests"] == TESTS
    assert ctx.events() == ["unit_test_parse_retry"]


async def test_gives_up_after_bounded_retries(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("unit_test_generator"), lambda m: "No.")
    with pytest.raises(OutputParseError) as caught:
        await UnitTestGenerator(ctx.spec).run(ctx, {})
    assert caught.value.raw_output == "No."
    assert len(ctx.requests) == 1 + PARSE_RETRIES
