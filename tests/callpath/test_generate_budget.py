"""`Engine.generate` holds a budget by the rule a batch holds it by (one function,
`BudgetGate`): a prompt starts only if the calls it makes at the least fit beside those
the runs in flight are still due to make, and under a token or dollar cap, its share. It
checked only whether a cap was already reached: a 12-call prompt started at 12 calls of 20
ended at 24, and prompts started together each saw the room the others were about to use."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from archon_async import (
    Architecture,
    BatchBudgetExceededError,
    Budget,
    BudgetExceededError,
    CallPath,
    ChatRequest,
    Engine,
)
from tests.conftest import FakeProvider, fake_registry, last_user


def _twelve_calls(provider: FakeProvider) -> Architecture:
    spec = {"type": "generator", "model": "m", "model_type": "Fake_API", "samples": 6}
    return Architecture.from_dict(
        {"layers": [[spec], [dict(spec)]]}, registry=fake_registry(provider)
    )


def _one_call(provider: FakeProvider) -> Architecture:
    spec = {"type": "generator", "model": "m", "model_type": "Fake_API"}
    return Architecture.from_dict({"layers": [[spec]]}, registry=fake_registry(provider))


async def _together(engine: Engine, count: int) -> list[str]:
    """Start ``count`` prompts at once: what each ended with ('ok' or the refusal)."""
    ended: list[str] = []

    async def one(index: int) -> None:
        try:
            await engine.generate(f"question {index}")
            ended.append("ok")
        except BudgetExceededError as exc:
            ended.append(str(exc))

    async with anyio.create_task_group() as group:
        for index in range(count):
            group.start_soon(one, index)
    return ended


async def test_a_prompt_whose_least_calls_do_not_fit_does_not_start() -> None:
    provider = FakeProvider(lambda request: "ok")
    budget = Budget(max_calls=20)
    async with Engine(_twelve_calls(provider), budget=budget) as engine:
        await engine.generate("one")
        with pytest.raises(BudgetExceededError) as refused:
            await engine.generate("two")  # 12 made, 12 more would end at 24
    assert str(refused.value) == (
        "the budget of 20 calls has no room for another prompt (12 made; a prompt makes at "
        "least 12): no new prompt starts on it; give a budget with room left to go on"
    )
    assert refused.value.budget is budget
    assert budget.spent().calls == 12 and len(provider.requests) == 12


async def test_prompts_started_together_count_each_others_calls_in_flight() -> None:
    provider = FakeProvider(lambda request: "ok")
    budget = Budget(max_calls=30)
    async with Engine(_twelve_calls(provider), budget=budget) as engine:
        ended = await _together(engine, 4)
    assert ended.count("ok") == 2  # two fit in 30: the others never started
    assert all("no room for another prompt" in each for each in ended if each != "ok")
    assert budget.spent().calls == 24 and len(provider.requests) == 24


@pytest.mark.parametrize(
    "budget",
    [Budget(max_tokens=50), Budget(max_cost_usd=0.00005, prices={"m": (1.0, 1.0)})],
    ids=["tokens", "cost"],
)
async def test_tokens_and_dollars_hold_for_prompts_started_together(budget: Budget) -> None:
    """15 tokens ($0.000015) a prompt: the first runs alone (its share is not known), the
    others wait for it, then start while their shares fit: 3, where all 8 started."""
    provider = FakeProvider(lambda request: "ok")
    async with Engine(_one_call(provider), budget=budget) as engine:
        ended = await _together(engine, 8)
    assert ended.count("ok") == 3 and len(provider.requests) == 3
    assert budget.spent().tokens == 45


async def test_generate_and_a_batch_on_one_budget_count_each_other(tmp_path: Path) -> None:
    """The same rule, the same accounting: a batch started while a prompt of `generate`'s
    own is in flight (its 12 calls not made yet) leaves room for them; it started two
    prompts of 12 beside it on a budget of 30 (36 calls)."""
    held = anyio.Event()

    async def reply(request: ChatRequest) -> str:
        if "own" in last_user(request):
            await held.wait()  # the prompt of its own stays in flight, its calls unmade
        return "ok"

    provider = FakeProvider(reply)
    budget = Budget(max_calls=30)
    items = [{"id": f"q{i}", "prompt": f"batch question {i}"} for i in range(4)]
    answered: list[str] = []
    async with Engine(_twelve_calls(provider), budget=budget) as engine:
        async with anyio.create_task_group() as group:
            group.start_soon(engine.generate, "own question")
            while not provider.requests:  # admitted: its first calls are out
                await anyio.lowlevel.checkpoint()
            with pytest.raises(BatchBudgetExceededError, match="no room for another prompt"):
                async for line in engine.batch(items, output=tmp_path / "a.jsonl"):
                    answered.append(line["id"])  # noqa: PERF401
            held.set()
    assert len(answered) == 1 and budget.spent().calls == 24 and len(provider.requests) == 24


@pytest.mark.parametrize("cap", ["tokens", "cost"])
async def test_two_engines_on_one_call_path_budget_hold_its_tokens_and_dollars(cap: str) -> None:
    """Engines on one call path count each other's prompts in flight, each at its own
    share: 15 tokens ($0.000015) a prompt of either, 3 prompts fit where 8 started."""
    provider = FakeProvider(lambda request: "ok")
    if cap == "tokens":
        budget = Budget(max_tokens=50)
    else:
        budget = Budget(max_cost_usd=0.00005, prices={"m": (1.0, 1.0)})
    async with CallPath(budget=budget) as calls:
        first = Engine(_one_call(provider), callpath=calls)
        second = Engine(_one_call(provider), callpath=calls)
        ended: list[list[str]] = []
        async with anyio.create_task_group() as group:
            for engine in (first, second):

                async def run(engine: Engine = engine) -> None:
                    ended.append(await _together(engine, 4))

                group.start_soon(run)
    assert sum(each.count("ok") for each in ended) == 3
    assert budget.spent().tokens == 45 and len(provider.requests) == 3
