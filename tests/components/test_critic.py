"""Critic: prompt, parsing of realistic and malformed replies, bounded retries."""

from __future__ import annotations

from typing import Any

import pytest

from archon_async.components._common import PARSE_RETRIES
from archon_async.components.critic import Critic, parse_critiques
from archon_async.components.formats import CRITIC_MARKER, render_critiques
from archon_async.components.prompts import CRITIC_PLACEHOLDERS, CRITIC_SYSTEM
from archon_async.core import ChatResponse, ComponentError

CANDIDATES = ["four", "five"]
GOOD = render_critiques([("correct", "terse"), ("confident", "wrong")])


def test_parse_the_format_we_ask_for() -> None:
    assert parse_critiques(GOOD, 2) == [
        "Strengths:\n- correct\nWeaknesses:\n- terse",
        "Strengths:\n- confident\nWeaknesses:\n- wrong",
    ]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # Markdown headers, separators, and a reference to another candidate inside a block.
        (
            "**[1]**\nStrengths: exact. Better than [2].\nWeaknesses: none\n\n---\n"
            "### [2]\nStrengths: quick\nWeaknesses: wrong",
            [
                "Strengths: exact. Better than [2].\nWeaknesses: none",
                "Strengths: quick\nWeaknesses: wrong",
            ],
        ),
        (
            "Response 1: Strengths: a. Weaknesses: b.\nResponse 2: Strengths: c. Weaknesses: d.",
            ["Strengths: a. Weaknesses: b.", "Strengths: c. Weaknesses: d."],
        ),
        # Everything on one line.
        (
            "[1] Strengths: a. Weaknesses: b. [2] Strengths: c. Weaknesses: d.",
            ["Strengths: a. Weaknesses: b.", "Strengths: c. Weaknesses: d."],
        ),
    ],
)
def test_parse_tolerates_how_models_write(reply: str, expected: list[str]) -> None:
    assert parse_critiques(reply, 2) == expected


@pytest.mark.parametrize(
    "reply",
    ["[1]\nStrengths: a\nWeaknesses: b", "No critiques today.", "[1]\n\n[2]\n", "[2] x [1] y"],
)
def test_parse_rejects_wrong_counts_and_empty_blocks(reply: str) -> None:
    assert parse_critiques(reply, 2) is None


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # A line of critique 1 that starts with another candidate's name is not a header.
        (
            "[1]\nStrengths: exact\nResponse 2 is better at brevity.\n[2] is terse too.\n"
            "[2]\nStrengths: short",
            [
                "Strengths: exact\nResponse 2 is better at brevity.\n[2] is terse too.",
                "Strengths: short",
            ],
        ),
        # "Critique of [k]:" headers, as the ranker and fuser prompts show critiques.
        ("Critique of [1]:\ngood\n\nCritique of [2]:\nbad", ["good", "bad"]),
        ("**Critique of Response 1:**\ngood\n\n**Critique of Response 2:**\nbad", ["good", "bad"]),
        ("## Response [1]\ngood\n## Response [2]\nbad", ["good", "bad"]),
        # One line with "Critique of" before each identifier.
        ("Critique of [1]: good. Critique of [2]: bad.", ["good.", "bad."]),
        # An index in code is not a header.
        ("[1] Uses nums[2] correctly. [2] Off by one.", ["Uses nums[2] correctly.", "Off by one."]),
    ],
)
def test_parse_recognises_only_real_headers(reply: str, expected: list[str]) -> None:
    assert parse_critiques(reply, 2) == expected


@pytest.mark.parametrize(
    "reply",
    [
        # Identifiers in running text beyond the candidates cannot be told from references.
        "[1] good. [2] bad. [3] ugly.",
        # A header missing, or out of order, before the n-th is a mismatch.
        "[2]\nbad\n[1]\ngood",
        "[1]\ngood\n[1]\nactually good\n[2]\nbad",
        # The prompt's example copied back is no critique.
        render_critiques([CRITIC_PLACEHOLDERS, CRITIC_PLACEHOLDERS]),
    ],
)
def test_parse_treats_disordered_headers_and_copies_as_a_mismatch(reply: str) -> None:
    assert parse_critiques(reply, 2) is None


@pytest.mark.parametrize(
    "reply",
    [
        # A block too many: the critiques that line up are kept, the extra one left out.
        "[1]\ngood\n[2]\nbad\n[3]\nugly",
        "Response 1: good\nResponse 2: bad\nResponse 3: ugly",
        "[1]\ngood\n[2]\nbad\n[1]\nactually bad",
    ],
)
def test_parse_keeps_what_lines_up_before_an_extra_block(reply: str) -> None:
    assert parse_critiques(reply, 2) == ["good", "bad"]


async def test_one_extra_block_is_parsed_and_noted(make_ctx: Any, spec: Any) -> None:
    four = render_critiques([("a", "b"), ("c", "d"), ("e", "f"), ("g", "h")])
    ctx = make_ctx(spec("critic"), lambda m: four)
    update = await Critic(ctx.spec).run(ctx, {"candidates": ["x", "y", "z"]})
    assert update["critiques"][2] == "Strengths:\n- e\nWeaknesses:\n- f"
    assert len(update["critiques"]) == 3 and len(ctx.requests) == 1
    assert ctx.notes == [{"event": "critic_extra_blocks", "extra": 1, "candidates": 3}]


async def test_writes_one_critique_per_candidate(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("critic", samples=3), lambda m: GOOD)
    update = await Critic(ctx.spec).run(ctx, {"candidates": CANDIDATES})
    assert update == {
        "critiques": [
            "Strengths:\n- correct\nWeaknesses:\n- terse",
            "Strengths:\n- confident\nWeaknesses:\n- wrong",
        ]
    }
    (call,) = ctx.requests  # one call whatever `samples` says
    assert call.messages[0] == {"role": "system", "content": CRITIC_SYSTEM}
    assert CRITIC_MARKER in call.prompt
    assert "[1] four" in call.prompt and "[2] five" in call.prompt
    assert "What is 2 + 2?" in call.prompt


async def test_retries_a_malformed_reply_then_succeeds(make_ctx: Any, spec: Any) -> None:
    replies = iter(["[1]\nStrengths: only one block\nWeaknesses: x", GOOD])
    ctx = make_ctx(spec("critic"), lambda m: next(replies))
    update = await Critic(ctx.spec).run(ctx, {"candidates": CANDIDATES})
    assert len(update["critiques"]) == 2
    assert len(ctx.requests) == 2
    assert ctx.events() == ["critic_parse_retry"]
    assert ctx.notes[0]["raw"].startswith("[1]\nStrengths: only one block")


async def test_unparsable_after_bounded_retries_goes_on_without_critiques(
    make_ctx: Any, spec: Any
) -> None:
    ctx = make_ctx(spec("critic"), lambda m: "I like them both.")
    update = await Critic(ctx.spec).run(ctx, {"candidates": CANDIDATES, "critiques": ["old"]})
    assert update == {"critiques": []}  # the candidates pass on, without critiques
    assert len(ctx.requests) == 1 + PARSE_RETRIES
    assert ctx.events() == ["critic_parse_retry"] * PARSE_RETRIES + ["critic_unparsable"]
    last = ctx.notes[-1]
    assert last["raw"] == "I like them both." and last["truncated"] is False
    assert last["attempts"] == 1 + PARSE_RETRIES
    assert "the candidates go on without critiques" in last["reason"]


async def test_a_truncated_reply_says_so_and_is_not_asked_again(make_ctx: Any, spec: Any) -> None:
    cut = ChatResponse(
        text="[1]\nStrengths:\n- correct\nWeaknesses:\n- terse\n\n[2]\nStre",
        finish_reason="max_tokens",
    )
    ctx = make_ctx(spec("critic", max_tokens=40), lambda m: cut)
    update = await Critic(ctx.spec).run(ctx, {"candidates": ["x", "y", "z"]})
    assert update == {"critiques": []}
    assert len(ctx.requests) == 1
    (note,) = ctx.notes
    assert note["event"] == "critic_unparsable" and note["truncated"] is True
    assert "cut at max_tokens (40): raise max_tokens of this critic (fake-model)" in note["reason"]


async def test_unit_tests_in_state_reach_the_query(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("critic"), lambda m: GOOD)
    await Critic(ctx.spec).run(ctx, {"candidates": CANDIDATES, "unit_tests": ["Says 4"]})
    assert "- Says 4" in ctx.requests[0].prompt


async def test_no_candidates_is_a_component_error(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("critic"), lambda m: GOOD)
    with pytest.raises(ComponentError):
        await Critic(ctx.spec).run(ctx, {"candidates": []})


@pytest.mark.parametrize(
    "reply",
    [
        "[" + "9" * 5000 + "]\nx",  # too many digits for int()
        "[1] a [" + "9" * 5000 + "] b",
        "*" * 10_000,  # a long decoration run once rescanned from every position
        "Response" + " " * 10_000 + "x",
    ],
)
def test_parse_does_not_raise_on_pathological_replies(reply: str) -> None:
    # A quadratic regex would make this test take minutes (speed is measured in bench/).
    assert parse_critiques(reply, 2) is None
