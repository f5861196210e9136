"""Batches that share one budget (a `CallPath`'s, or one `Budget` given to each) start a
prompt only if its calls fit beside those every batch's prompts in flight are still due to
make, as one batch does. Each batch counted only its own: two batches of 12-call prompts
on a call path capped at 30 calls both started two prompts and made 48 calls together,
where one batch makes 24 whatever its concurrency."""

from __future__ import annotations

from contextlib import aclosing
from pathlib import Path
from typing import Any

import anyio
import pytest

from archon_async import (
    Architecture,
    BatchBudgetExceededError,
    Budget,
    CallPath,
    ChatRequest,
    Engine,
)
from tests.conftest import FakeProvider, fake_registry


def _architecture(provider: FakeProvider, model: str) -> Architecture:
    spec = {"type": "generator", "model": model, "model_type": "Fake_API", "samples": 6}
    layers = {"name": model, "layers": [[spec], [dict(spec)]]}
    return Architecture.from_dict(layers, registry=fake_registry(provider))


async def _batch(engine: Engine, name: str, out: Path, **options: Any) -> list[str]:
    answered: list[str] = []
    prompts = [{"id": f"{name}{i}", "prompt": f"{name} question {i}"} for i in range(5)]
    try:
        async with aclosing(engine.batch(prompts, output=out, concurrency=4, **options)) as it:
            async for line in it:  # kept as they come: the batch ends by raising
                answered.append(line["id"])  # noqa: PERF401
    except BatchBudgetExceededError:
        pass
    return answered


@pytest.mark.parametrize("shared", ["callpath", "budget"])
async def test_batches_on_one_budget_start_only_prompts_that_fit_together(
    tmp_path: Path, shared: str
) -> None:
    both_started = anyio.Event()

    async def held(request: ChatRequest) -> str:
        if len(provider.requests) >= 2:  # every prompt that started is in flight
            both_started.set()
        with anyio.move_on_after(1):
            await both_started.wait()
        return "ok"

    provider = FakeProvider(held)
    budget = Budget(max_calls=30)
    options: dict[str, Any] = {"budget": budget} if shared == "budget" else {}
    async with CallPath(budget=budget if shared == "callpath" else None) as calls:
        first = Engine(_architecture(provider, "a"), callpath=calls)
        second = Engine(_architecture(provider, "b"), callpath=calls)
        async with anyio.create_task_group() as group:
            results: dict[str, list[str]] = {}

            async def run(name: str, engine: Engine) -> None:
                results[name] = await _batch(engine, name, tmp_path / f"{name}.jsonl", **options)

            group.start_soon(run, "a", first)
            group.start_soon(run, "b", second)
    # Prompts of 12 calls (two layers of 6 samples): two fit in 30, whichever batch has them.
    assert len(results["a"]) + len(results["b"]) == 2
    assert budget.spent().calls == 24 and len(provider.requests) == 24
