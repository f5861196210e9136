"""Fuser: prompt contents, message shape, critiques, length control, samples, errors."""

from __future__ import annotations

from typing import Any

import anyio

from archon_async.components.formats import FUSER_MARKER
from archon_async.components.fuser import Fuser
from archon_async.components.prompts import FUSER_SYSTEM
from archon_async.core import Message

CONVERSATION: list[Message] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Name a prime."},
    {"role": "assistant", "content": "7"},
    {"role": "user", "content": "Name an even prime."},
]


async def test_prompt_lists_candidates_in_archon_message_shape(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("fuser"), lambda m: "2", conversation=CONVERSATION)
    update = await Fuser(ctx.spec).run(ctx, {"candidates": ["two", "the number 2"]})
    assert update == {"candidates": ["2"]}
    (call,) = ctx.requests
    assert call.messages[0] == {"role": "system", "content": FUSER_SYSTEM}
    assert call.messages[1:3] == CONVERSATION[1:3]  # earlier turns, no system, no query
    assert call.messages[3]["role"] == "user"
    assert len(call.messages) == 4
    prompt = call.prompt
    assert FUSER_MARKER in prompt
    assert "[1] two" in prompt and "[2] the number 2" in prompt
    assert "Name an even prime." in prompt
    assert "Critique" not in prompt
    assert "longest" not in prompt


async def test_aligned_critiques_are_shown(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("fuser"), lambda m: "2")
    state = {"candidates": ["a", "b"], "critiques": ["crit a", "crit b"]}
    await Fuser(ctx.spec).run(ctx, state)
    prompt = ctx.requests[0].prompt
    assert "[1] a\n\nCritique of [1]:\ncrit a" in prompt
    assert "Critique of [2]:\ncrit b" in prompt


async def test_misaligned_critiques_are_ignored_and_noted(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("fuser"), lambda m: "2")
    await Fuser(ctx.spec).run(ctx, {"candidates": ["a", "b"], "critiques": ["only one"]})
    assert "only one" not in ctx.requests[0].prompt
    assert ctx.notes == [{"event": "critiques_ignored", "critiques": 1, "candidates": 2}]


async def test_length_control_adds_the_instruction(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("fuser", length_control=True), lambda m: "2")
    await Fuser(ctx.spec).run(ctx, {"candidates": ["a", "b"]})
    assert "no longer than the longest" in ctx.requests[0].prompt


async def test_samples_are_concurrent(make_ctx: Any, spec: Any, barrier: Any) -> None:
    gate = barrier(3)
    count: list[int] = []

    async def reply(messages: list[Message]) -> str:
        count.append(1)
        number = len(count)
        await gate.wait()
        return f"fused {number}"

    ctx = make_ctx(spec("fuser", samples=3), reply)
    with anyio.fail_after(5):
        update = await Fuser(ctx.spec).run(ctx, {"candidates": ["a"]})
    assert update == {"candidates": ["fused 1", "fused 2", "fused 3"]}


async def test_no_system_drops_the_fuser_system_message(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("fuser", no_system=True), lambda m: "2")
    await Fuser(ctx.spec).run(ctx, {"candidates": ["a"]})
    assert all(m["role"] != "system" for m in ctx.requests[0].messages)


async def test_without_candidates_it_answers_the_query_directly(make_ctx: Any, spec: Any) -> None:
    # One published Archon config puts fusers in its first layer, where nothing came before.
    ctx = make_ctx(spec("fuser"), lambda m: "direct")
    result = await Fuser(ctx.spec).run(ctx, {"candidates": []})
    assert result == {"candidates": ["direct"]}
    [request] = ctx.requests
    assert list(request.messages) == list(ctx.conversation)
    assert [note["event"] for note in ctx.notes] == ["fuser_without_candidates"]
