"""Generator: concurrent samples, order, failures, no_system, unit tests in the query."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from archon_async.components._common import UNIT_TESTS_PHRASE
from archon_async.components.generator import Generator
from archon_async.core import ChatResponse, Message, ProviderServerError, ProviderTimeoutError


async def test_samples_run_concurrently_and_keep_sample_order(
    make_ctx: Any, spec: Any, barrier: Any
) -> None:
    gate = barrier(3)
    arrivals: list[int] = []
    done = [anyio.Event() for _ in range(3)]

    async def reply(messages: list[Message]) -> str:
        number = len(arrivals)
        arrivals.append(number)
        await gate.wait()  # all three are in flight before any answers
        if number < 2:
            await done[number + 1].wait()  # finish in reverse order: 2, then 1, then 0
        done[number].set()
        return f"answer {number}"

    ctx = make_ctx(spec("generator", samples=3), reply)
    with anyio.fail_after(5):
        update = await Generator(ctx.spec).run(ctx, {})
    assert update == {"candidates": ["answer 0", "answer 1", "answer 2"]}
    assert len(ctx.requests) == 3
    assert ctx.notes == []


async def test_sends_the_conversation_as_is(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("generator"), lambda messages: "four")
    assert await Generator(ctx.spec).run(ctx, {"candidates": ["old"]}) == {"candidates": ["four"]}
    assert ctx.requests[0].messages == ctx.conversation
    # Temperature and max_tokens come from the spec, applied by the context.
    assert ctx.requests[0].temperature is None


async def test_no_system_drops_system_messages(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("generator", no_system=True), lambda messages: "four")
    await Generator(ctx.spec).run(ctx, {})
    assert [m["role"] for m in ctx.requests[0].messages] == ["user"]


async def test_unit_tests_from_state_are_appended_to_the_query(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("generator"), lambda messages: "four")
    await Generator(ctx.spec).run(ctx, {"unit_tests": ["The answer states 4", "It is short"]})
    query = ctx.requests[0].prompt
    assert query == (f"What is 2 + 2? {UNIT_TESTS_PHRASE} \n- The answer states 4\n- It is short")
    assert ctx.conversation[-1]["content"] == "What is 2 + 2?"  # not mutated


async def test_failed_samples_are_dropped_and_noted(make_ctx: Any, spec: Any) -> None:
    calls: list[int] = []

    def reply(messages: list[Message]) -> str:
        calls.append(1)
        if len(calls) == 2:
            raise ProviderServerError("boom", status_code=500)
        return f"answer {len(calls)}"

    ctx = make_ctx(spec("generator", samples=3), reply)
    update = await Generator(ctx.spec).run(ctx, {})
    assert update == {"candidates": ["answer 1", "answer 3"]}
    assert ctx.events() == ["generator_samples_failed"]
    assert ctx.notes[0]["failed"] == 1 and ctx.notes[0]["requested"] == 3


async def test_every_sample_failing_raises_the_first_error(make_ctx: Any, spec: Any) -> None:
    calls: list[int] = []

    def reply(messages: list[Message]) -> str:
        calls.append(1)
        raise ProviderTimeoutError(f"timeout {len(calls)}")

    ctx = make_ctx(spec("generator", samples=2), reply)
    with pytest.raises(ProviderTimeoutError, match="timeout 1"):
        await Generator(ctx.spec).run(ctx, {})
    assert len(ctx.requests) == 2


async def test_cancelling_the_run_cancels_every_sample(
    make_ctx: Any, spec: Any, barrier: Any
) -> None:
    gate = barrier(3)
    cancelled: list[int] = []

    async def reply(messages: list[Message]) -> str:
        try:
            await gate.wait()
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.append(1)
            raise
        return "never"

    ctx = make_ctx(spec("generator", samples=3), reply)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(Generator(ctx.spec).run, ctx, {})
            await gate.wait_all_arrived()
            group.cancel_scope.cancel()
    assert len(cancelled) == 3


async def test_replies_cut_at_max_tokens_are_kept_and_noted(make_ctx: Any, spec: Any) -> None:
    replies = iter(
        [
            ChatResponse(text="A full answer.", finish_reason="stop"),
            ChatResponse(text="An answer cut in the mid", finish_reason="length"),
        ]
    )
    ctx = make_ctx(spec("generator", samples=2, max_tokens=8), lambda m: next(replies))
    update = await Generator(ctx.spec).run(ctx, {})
    assert sorted(update["candidates"]) == ["A full answer.", "An answer cut in the mid"]
    (note,) = ctx.notes
    assert note["event"] == "replies_truncated" and note["truncated"] == 1
    assert "cut at max_tokens (8): raise max_tokens of this generator" in note["hint"]
