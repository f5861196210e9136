"""first_k / first_pass stop early: candidates judged in candidate order through a bounded
window, the rest cancelled once the first k passes are known. The selection must be
Archon's sequential one (components/Verifier.py, components/Unit_Test_Evaluator.py) and the
calls at most a window's worth beyond Archon's."""

from __future__ import annotations

import random
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from archon_async.components._first_k import DEFAULT_FIRST_K_WINDOW, scan_first_k
from archon_async.components.formats import (
    VERIFIER_REASONING_MARKER,
    render_unit_test_verdicts,
    render_verdict,
)
from archon_async.components.unit_test_evaluator import UnitTestEvaluator
from archon_async.components.verifier import Verifier
from archon_async.core import Message

TESTS = ["The answer states 4", "The answer is one word"]


def archon_selection(verdicts: list[bool], k: int) -> tuple[list[int] | None, int]:
    """Archon's scan: judge one by one, stop at the k-th pass. (selected, judgements)."""
    chosen: list[int] = []
    for index, ok in enumerate(verdicts):
        if ok:
            chosen.append(index)
            if len(chosen) == k:
                return chosen, index + 1
    return None, len(verdicts)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("k", [1, 3])
async def test_scan_selects_as_archon_within_a_window_of_extra_calls(seed: int, k: int) -> None:
    rng = random.Random(seed)
    rate = rng.choice([0.05, 0.2, 0.5, 0.9])
    verdicts = [rng.random() < rate for _ in range(100)]
    started: list[int] = []

    async def judge(index: int) -> bool:
        started.append(index)
        await anyio.sleep(rng.random() * 0.002)  # finish out of order
        return verdicts[index]

    scan = await scan_first_k(100, judge, bool, k, max_window=6)
    selected, archon_calls = archon_selection(verdicts, k)
    assert scan.selected == selected
    assert started == list(range(len(started)))  # started in candidate order
    assert len(started) <= archon_calls + 6 - 1
    assert len(scan.results) + len(scan.cancelled) == len(started)
    assert scan.skipped == 100 - len(started)
    if selected is None:
        assert len(started) == 100  # fewer than k passes: every candidate judged


async def test_scan_cancels_judgements_that_can_no_longer_be_chosen() -> None:
    finished: list[int] = []
    release = anyio.Event()

    async def judge(index: int) -> bool:
        if index > 0:
            await release.wait()  # still in flight when candidate 0 passes
        finished.append(index)
        return True

    with anyio.fail_after(5):
        scan = await scan_first_k(10, judge, bool, 1, max_window=4)
    assert scan.selected == [0]
    assert finished == [0]
    assert scan.cancelled == [] and scan.skipped == 9  # the first window is one candidate


async def test_scan_window_widens_with_failures_and_cancels_later_candidates() -> None:
    in_flight = 0
    most = 0
    pass_at = 20
    done = anyio.Event()

    async def judge(index: int) -> bool:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            if index > pass_at:
                await done.wait()  # would wait forever: must be cancelled
            await anyio.lowlevel.checkpoint()
            return index == pass_at
        finally:
            in_flight -= 1

    with anyio.fail_after(5):
        scan = await scan_first_k(100, judge, bool, 1, max_window=5)
    assert scan.selected == [pass_at]
    assert 1 < most <= 5  # the window widened past one, never past max_window
    assert scan.cancelled and all(index > pass_at for index in scan.cancelled)
    assert len(scan.results) == pass_at + 1  # every candidate before the pass was judged


def candidate_of(prompt: str) -> int:
    for line in prompt.splitlines():
        for prefix in ("Candidate response: ", "The response: ", "Response: "):
            if line.startswith(prefix):
                return int(line.removeprefix(prefix).split()[-1])
    raise AssertionError("no candidate in the prompt")


@pytest.mark.parametrize("window", [None, 1, 16])
async def test_first_pass_evaluator_on_100_samples(make_ctx: Any, spec: Any, window: Any) -> None:
    passing = {37, 38, 80}

    def reply(messages: list[Message]) -> str:
        ok = candidate_of(messages[-1]["content"]) in passing
        return render_unit_test_verdicts([ok, ok])

    settings: dict[str, Any] = {"first_pass": True, "top_k": 1}
    if window is not None:
        settings["first_k_window"] = window
    ctx = make_ctx(spec("unit_test_evaluator", **settings), reply)
    candidates = [f"answer {i}" for i in range(100)]
    update = await UnitTestEvaluator(ctx.spec).run(
        ctx, {"candidates": candidates, "unit_tests": TESTS}
    )
    assert update == {"candidates": ["answer 37"]}  # Archon's choice: the first to pass
    judged = [candidate_of(call.prompt) for call in ctx.requests]
    archon_calls = 38
    limit = window or DEFAULT_FIRST_K_WINDOW
    assert judged == list(range(len(judged)))  # in candidate order
    assert archon_calls <= len(judged) <= archon_calls + limit - 1
    if window == 1:
        assert len(judged) == archon_calls  # Archon's sequential scan, call for call
    (note,) = ctx.notes
    assert note["event"] == "first_k_stopped_early" and note["selected"] == [37]
    assert note["judged"] + note["cancelled"] + note["skipped"] == 100


async def test_first_k_verifier_on_100_samples(make_ctx: Any, spec: Any) -> None:
    correct = {5, 12, 13, 60}

    def reply(messages: list[Message]) -> str:
        prompt = messages[-1]["content"]
        index = candidate_of(prompt)
        if VERIFIER_REASONING_MARKER in prompt:
            return f"reasoning {index}"
        return render_verdict(index in correct)

    ctx = make_ctx(spec("verifier", first_k=2), reply)
    candidates = [f"answer {i}" for i in range(100)]
    update = await Verifier(ctx.spec).run(ctx, {"candidates": candidates})
    assert update == {"candidates": ["answer 5", "answer 12"]}
    checked = sorted({candidate_of(call.prompt) for call in ctx.requests})
    assert checked == list(range(len(checked)))
    archon_checks = 13  # candidates 0..12, two calls each
    assert archon_checks <= len(checked) <= archon_checks + DEFAULT_FIRST_K_WINDOW - 1
    assert len(ctx.requests) == 2 * len(checked)
    assert ctx.events() == ["first_k_stopped_early"]


async def test_fewer_than_k_passing_judges_every_candidate(make_ctx: Any, spec: Any) -> None:
    def reply(messages: list[Message]) -> str:
        index = candidate_of(messages[-1]["content"])
        return render_unit_test_verdicts([index == 3, index in (3, 7)])

    ctx = make_ctx(spec("unit_test_evaluator", first_k=2, top_k=2), reply)
    candidates = [f"answer {i}" for i in range(10)]
    update = await UnitTestEvaluator(ctx.spec).run(
        ctx, {"candidates": candidates, "unit_tests": TESTS}
    )
    # Only candidate 3 passes both tests: Archon ranks everyone by score, ties by text.
    assert update == {"candidates": ["answer 3", "answer 7"]}
    assert len(ctx.requests) == 10
    assert ctx.events() == ["unit_test_first_k_fallback"]


async def test_a_bug_in_a_judgement_is_raised_as_itself() -> None:
    async def judge(index: int) -> bool:
        if index == 2:
            raise KeyError("bug")
        return False

    with pytest.raises(KeyError, match="bug"):
        await scan_first_k(10, judge, bool, 1, max_window=4)
