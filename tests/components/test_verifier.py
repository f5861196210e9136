"""Verifier: reasoning then verdict per candidate, concurrency, first_k, fallbacks."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from archon_async.components._common import PARSE_RETRIES
from archon_async.components.formats import (
    VERIFIER_REASONING_MARKER,
    VERIFIER_VERDICT_MARKER,
    render_verdict,
)
from archon_async.components.verifier import Verifier, parse_verdict
from archon_async.core import ComponentError, Message, ProviderServerError

CANDIDATES = ["four", "five", "4", "IV"]
CORRECT = {"four", "4", "IV"}


def candidate_in(prompt: str) -> str:
    for line in prompt.splitlines():
        for prefix in ("The response: ", "Response: "):
            if line.startswith(prefix):
                return line.removeprefix(prefix)
    raise AssertionError(f"no candidate in {prompt!r}")


def judge(messages: list[Message]) -> str:
    prompt = messages[-1]["content"]
    candidate = candidate_in(prompt)
    if VERIFIER_REASONING_MARKER in prompt:
        return f"reasoning about {candidate}"
    assert VERIFIER_VERDICT_MARKER in prompt
    assert f"Reasoning: reasoning about {candidate}" in prompt
    return f"It checks out or not.\n{render_verdict(candidate in CORRECT)}"


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("[Correct]", True),
        ("Looks wrong. [Incorrect]", False),
        ("Either [Correct] or [Incorrect]... final: [Correct]", True),
        ("**[ incorrect ]**", False),
        ("Verdict: Correct", True),
        ("Final verdict - incorrect.", False),
        ("I am not sure.", None),
        # The prompt's options copied back are no verdict.
        ("End with exactly one verdict: [Correct] or [Incorrect].", None),
        ("[Correct] or [Incorrect]? It fails step 2. [Incorrect]", False),
        ("", None),
    ],
)
def test_parse_verdict(reply: str, verdict: bool | None) -> None:
    assert parse_verdict(reply) is verdict


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        # A negated tag is not that verdict.
        ("not [Correct]; it is incorrect.", False),
        ("The response is not [Correct].", False),
        ("It isn't [Incorrect] after all.", True),
        ("Not [Incorrect]: [Correct]", True),
        # The final explicit verdict wins, tag or "Verdict:" line.
        ("At first glance [Correct], but 3 != 4.\nVerdict: Incorrect", False),
        ("Final verdict: not correct.", False),
        ("Verdict: the response is incorrect.", False),
        ("[Not Correct]", False),
        # A last line that is only the verdict word.
        ("The arithmetic checks out.\n\n**Correct**", True),
        ("The sum is wrong.\nIncorrect.", False),
        # "not" earlier in the sentence does not negate the tag.
        ("Not a trivial check, but [Correct]", True),
        ("I am not sure whether it is correct.", None),
    ],
)
def test_parse_verdict_takes_the_final_verdict_and_heeds_negation(
    reply: str, verdict: bool | None
) -> None:
    assert parse_verdict(reply) is verdict


async def test_keeps_verified_candidates_in_order(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("verifier", batch_num=2), judge)
    update = await Verifier(ctx.spec).run(ctx, {"candidates": CANDIDATES})
    assert update == {"candidates": ["four", "4", "IV"]}
    assert len(ctx.requests) == 2 * len(CANDIDATES)
    reasoning = [c for c in ctx.requests if VERIFIER_REASONING_MARKER in c.prompt]
    assert sorted(candidate_in(c.prompt) for c in reasoning) == sorted(CANDIDATES)
    assert ctx.notes == []


async def test_candidates_are_checked_concurrently(make_ctx: Any, spec: Any, barrier: Any) -> None:
    gate = barrier(len(CANDIDATES))

    async def reply(messages: list[Message]) -> str:
        if VERIFIER_REASONING_MARKER in messages[-1]["content"]:
            await gate.wait()  # every reasoning call is in flight before any returns
        return judge(messages)

    ctx = make_ctx(spec("verifier"), reply)
    with anyio.fail_after(5):
        update = await Verifier(ctx.spec).run(ctx, {"candidates": CANDIDATES})
    assert update["candidates"] == ["four", "4", "IV"]


async def test_first_k_keeps_the_first_verified_in_candidate_order(
    make_ctx: Any, spec: Any
) -> None:
    ctx = make_ctx(spec("verifier", first_k=2), judge)
    state = {"candidates": CANDIDATES, "critiques": ["c1", "c2", "c3", "c4"]}
    update = await Verifier(ctx.spec).run(ctx, state)
    assert update == {"candidates": ["four", "4"], "critiques": ["c1", "c3"]}


async def test_none_verified_passes_everything_on(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("verifier"), judge)
    state = {"candidates": ["five", "six"], "critiques": ["c5", "c6"]}
    update = await Verifier(ctx.spec).run(ctx, state)
    assert update == {"candidates": ["five", "six"], "critiques": ["c5", "c6"]}
    assert ctx.notes == [{"event": "verifier_none_verified", "candidates": 2, "kept": 2}]


async def test_none_verified_passes_on_those_judged_incorrect_as_archon(
    make_ctx: Any, spec: Any
) -> None:
    def reply(messages: list[Message]) -> str:
        prompt = messages[-1]["content"]
        if candidate_in(prompt) == "six" and VERIFIER_VERDICT_MARKER in prompt:
            return "Hard to say."
        return judge(messages)

    ctx = make_ctx(spec("verifier"), reply)
    state = {"candidates": ["five", "six"], "critiques": ["c5", "c6"]}
    update = await Verifier(ctx.spec).run(ctx, state)
    # Archon drops a candidate whose check raised (no verdict after its retries).
    assert update == {"candidates": ["five"], "critiques": ["c5"]}
    assert ctx.notes[-1] == {"event": "verifier_none_verified", "candidates": 2, "kept": 1}


async def test_unparsable_verdict_is_retried_then_counts_as_unverified(
    make_ctx: Any, spec: Any
) -> None:
    def reply(messages: list[Message]) -> str:
        prompt = messages[-1]["content"]
        if candidate_in(prompt) == "4" and VERIFIER_VERDICT_MARKER in prompt:
            return "Hard to say."
        return judge(messages)

    ctx = make_ctx(spec("verifier"), reply)
    update = await Verifier(ctx.spec).run(ctx, {"candidates": ["four", "4"]})
    assert update == {"candidates": ["four"]}
    verdicts_for_4 = [
        c
        for c in ctx.requests
        if VERIFIER_VERDICT_MARKER in c.prompt and candidate_in(c.prompt) == "4"
    ]
    assert len(verdicts_for_4) == 1 + PARSE_RETRIES
    assert ctx.events() == ["verifier_verdict_retry"] * PARSE_RETRIES + [
        "verifier_verdict_unparsable"
    ]


async def test_a_verdict_retry_can_succeed(make_ctx: Any, spec: Any) -> None:
    replies = iter(["hmm", "[Correct]"])

    def reply(messages: list[Message]) -> str:
        if VERIFIER_VERDICT_MARKER in messages[-1]["content"]:
            return next(replies)
        return "reasoning"

    ctx = make_ctx(spec("verifier"), reply)
    assert await Verifier(ctx.spec).run(ctx, {"candidates": ["x"]}) == {"candidates": ["x"]}
    assert len(ctx.requests) == 3  # reasoning, verdict, verdict again


async def test_failed_candidate_is_noted_and_unverified(make_ctx: Any, spec: Any) -> None:
    def reply(messages: list[Message]) -> str:
        if candidate_in(messages[-1]["content"]) == "IV":
            raise ProviderServerError("down", status_code=502)
        return judge(messages)

    ctx = make_ctx(spec("verifier"), reply)
    update = await Verifier(ctx.spec).run(ctx, {"candidates": ["four", "IV"]})
    assert update == {"candidates": ["four"]}
    assert ctx.events() == ["verifier_candidate_failed"]
    assert ctx.notes[0]["candidate"] == 1


async def test_every_candidate_failing_raises(make_ctx: Any, spec: Any) -> None:
    def reply(messages: list[Message]) -> str:
        raise ProviderServerError("down", status_code=502)

    ctx = make_ctx(spec("verifier"), reply)
    with pytest.raises(ProviderServerError):
        await Verifier(ctx.spec).run(ctx, {"candidates": ["four", "IV"]})


async def test_no_candidates_is_a_component_error(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("verifier"), judge)
    with pytest.raises(ComponentError):
        await Verifier(ctx.spec).run(ctx, {})


@pytest.mark.parametrize(
    "reply", ["[Correct] " * 3000, "not " * 10_000 + "[Correct]", "verdict" + " " * 20_000]
)
def test_parse_verdict_reads_long_replies(reply: str) -> None:
    # A quadratic regex would make this test take minutes (speed is measured in bench/).
    assert parse_verdict(reply) in (True, False, None)  # None: no verdict in the reply
