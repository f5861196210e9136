"""Budgets under a response cache: a capped batch stays within its cap though its prompts
may be cached, and cached prompts still run (their hits are free)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from archon_async import Architecture, BatchBudgetExceededError, Budget, Engine
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from tests.cli_process import expect_status
from tests.conftest import FakeProvider, fake_registry, run_cli, summary_of


def architecture(provider: FakeProvider) -> Architecture:
    spec = {"type": "generator", "model": "m", "model_type": "Fake_API", "samples": 2}
    return Architecture.from_dict({"layers": [[spec]]}, registry=fake_registry(provider))


def items(count: int) -> list[BatchItem]:
    return [
        BatchItem(id=f"q{i}", messages=[{"role": "user", "content": f"question {i}"}])
        for i in range(count)
    ]


def ids(path: Path) -> list[str]:
    return sorted(orjson.loads(line)["id"] for line in path.read_bytes().splitlines())


async def batch(
    provider: FakeProvider, cache: Path, out: Path, count: int, budget: Budget | None
) -> Any:
    engine = Engine(architecture(provider), cache=cache)
    return await run_batch(
        engine, items(count), out, total=count, concurrency=8, progress=io.StringIO(),
        budget=budget,
    )  # fmt: skip


async def test_a_capped_batch_on_a_cache_stays_within_its_calls(tmp_path: Path) -> None:
    provider = FakeProvider(lambda request: "ok")
    cache = tmp_path / "cache.sqlite"
    budget = Budget(max_calls=5)
    with pytest.raises(BatchBudgetExceededError, match="budget of 5 calls"):
        await batch(provider, cache, tmp_path / "a.jsonl", 20, budget)
    # Prompts of 2 calls, 8 workers: two fit in 5 calls (a cache used to turn the batch's
    # reservation off: every worker started a prompt, 8 calls).
    assert budget.spent().calls == 4 and len(provider.requests) == 4
    assert ids(tmp_path / "a.jsonl") == ["q0", "q1"]


async def test_cached_prompts_run_under_a_cap_they_cost_nothing_of(tmp_path: Path) -> None:
    provider = FakeProvider(lambda request: "ok")
    cache = tmp_path / "cache.sqlite"
    await batch(provider, cache, tmp_path / "first.jsonl", 10, None)
    sent = len(provider.requests)
    assert sent == 20
    # A cached rerun under a cap below its calls: every prompt is answered, none sent.
    budget = Budget(max_calls=5)
    stats = await batch(provider, cache, tmp_path / "again.jsonl", 10, budget)
    assert stats.answered == 10 and len(provider.requests) == sent
    assert budget.spent().calls == 0 and budget.spent().cache_hits == 20
    # Ten cached prompts and ten new: the cached ones are answered, two new ones fit.
    budget = Budget(max_calls=5)
    with pytest.raises(BatchBudgetExceededError, match="budget of 5 calls"):
        await batch(provider, cache, tmp_path / "more.jsonl", 20, budget)
    assert budget.spent().calls == 4 and len(provider.requests) == sent + 4
    assert len(ids(tmp_path / "more.jsonl")) == 12


def test_cli_max_calls_with_a_cache_caps_the_batch(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(orjson.dumps({"id": i, "prompt": f"q {i}"}).decode() + "\n" for i in range(20))
    )
    cache = str(tmp_path / "cache.sqlite")
    args = ["batch", "--input", str(prompts), "--cache", cache, "--concurrency", "8"]
    out = str(tmp_path / "out.jsonl")
    capped = run_cli(*args, "--output", out, "--max-calls", "30", env_without_keys=True)
    assert capped.returncode == 1, capped.stderr
    summary = summary_of(capped)
    assert summary["answered"] == 2 and summary["calls"] == 24  # 12 calls a prompt
    # Below one prompt's calls is refused before any call, with a cache as without.
    low = run_cli(*args, "--output", out, "--max-calls", "5", env_without_keys=True)
    assert "give --max-calls 12 or more" in expect_status(low, 2).stderr


async def test_the_resume_command_has_room_for_the_rest_though_the_answered_were_cached(
    tmp_path: Path,
) -> None:
    """The resume cap came from the calls per answered prompt, the cached ones (free)
    included: 10 cached and 2 sent prompts of 2 calls made 4 calls, so the 8 left were
    given --max-calls 5 again (room for 2 more), not the 18 they need."""
    import argparse

    from archon_async._cli_callpath import stopped_fields

    provider = FakeProvider(lambda request: "ok")
    cache = tmp_path / "cache.sqlite"
    await batch(provider, cache, tmp_path / "first.jsonl", 10, None)
    budget = Budget(max_calls=5)
    with pytest.raises(BatchBudgetExceededError) as stopped:
        await batch(provider, cache, tmp_path / "more.jsonl", 20, budget)
    assert budget.spent().calls == 4 and stopped.value.not_started == 8
    args = argparse.Namespace(command_line=["batch", "--max-calls", "5"])
    resume = stopped_fields(stopped.value, args)["resume"].split()
    assert resume[resume.index("--max-calls") + 1] == "18"  # 8 prompts of 2 calls, + 10%


async def test_cached_prompts_do_not_lower_a_token_caps_share(tmp_path: Path) -> None:
    # Found by the new-user test (issue 12): a batch whose first prompts came from the
    # cache learnt a prompt's share as 0 tokens (their average), so every worker then
    # started a prompt that sends: --max-cost 0.01 on a cached run spent $0.0185.
    provider = FakeProvider(lambda request: "ok")
    cache = tmp_path / "cache.sqlite"
    await batch(provider, cache, tmp_path / "first.jsonl", 10, None)
    sent = len(provider.requests)
    # Prompts of 2 calls of 15 tokens each (30 a prompt), q0-q9 cached, 8 workers.
    budget = Budget(max_tokens=100)
    with pytest.raises(BatchBudgetExceededError, match="budget of 100 tokens"):
        await batch(provider, cache, tmp_path / "more.jsonl", 20, budget)
    assert budget.spent().tokens <= 100  # 8 new prompts at once made 240
    assert len(provider.requests) - sent == budget.spent().calls == 6  # three new prompts
    assert len(ids(tmp_path / "more.jsonl")) == 13
