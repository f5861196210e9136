"""Budgets: no new prompt past a cap, in-flight prompts finish, the rerun goes on; estimates."""

from __future__ import annotations

import io
import math
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from archon_async import (
    Architecture,
    BatchBudgetExceededError,
    BatchStoppedError,
    Budget,
    BudgetExceededError,
    CallPath,
    ChatRequest,
    Engine,
    InvalidInputError,
    ProviderServerError,
)
from archon_async._batch import run_batch
from archon_async._batch_budget import least_calls
from archon_async._batch_io import BatchItem
from archon_async._defaults import DEFAULT_ARCHITECTURE
from archon_async.callpath._estimate import estimate
from tests.cli_process import expect_status
from tests.conftest import FakeProvider, fake_registry, last_user, run_cli, summary_of


def architecture(provider: FakeProvider, samples: int = 1, model: str = "m") -> Architecture:
    spec = {"type": "generator", "model": model, "model_type": "Fake_API", "samples": samples}
    return Architecture.from_dict({"layers": [[spec]]}, registry=fake_registry(provider))


def items(count: int) -> list[BatchItem]:
    return [
        BatchItem(id=f"q{i}", messages=[{"role": "user", "content": f"question {i}"}])
        for i in range(count)
    ]


def lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def test_an_engine_budget_stops_new_prompts_before_any_call() -> None:
    provider = FakeProvider(lambda request: "ok")
    budget = Budget(max_calls=7)
    async with Engine(architecture(provider, samples=3), budget=budget) as engine:
        await engine.generate("one")
        await engine.generate("two")  # 6 of 7 calls: a third prompt's 3 do not fit
        with pytest.raises(BudgetExceededError, match="budget of 7 calls has no room"):
            await engine.generate("three")
    assert len(provider.requests) == 6
    assert budget.spent().calls == 6 and budget.spent().tokens == 6 * 15


async def test_token_and_cost_caps() -> None:
    provider = FakeProvider(lambda request: "ok")
    async with Engine(architecture(provider), budget=Budget(max_tokens=30)) as engine:
        await engine.generate("a")
        await engine.generate("b")
        with pytest.raises(BudgetExceededError, match="30 tokens"):
            await engine.generate("c")
    priced = Budget(max_cost_usd=0.0001, prices={"m": (1.0, 1.0)})  # $1 per million tokens
    async with Engine(architecture(provider), budget=priced) as engine:
        for _ in range(6):
            await engine.generate("a")  # 15 tokens each: $0.000015; a 7th does not fit
        with pytest.raises(BudgetExceededError, match=r"\$0.0001 has no room"):
            await engine.generate("a")
    with pytest.raises(InvalidInputError, match="max_calls"):
        Budget(max_calls=-1)


async def test_a_callpath_budget_caps_every_engine_on_it() -> None:
    provider = FakeProvider(lambda request: "ok")
    async with CallPath(budget=Budget(max_calls=2)) as calls:
        first = Engine(architecture(provider, model="a"), callpath=calls)
        second = Engine(architecture(provider, model="b"), callpath=calls)
        await first.generate("q")
        await second.generate("q")
        with pytest.raises(BudgetExceededError):
            await first.generate("another")
    assert calls.spent().calls == 2


async def test_a_batch_stops_on_its_budget_and_resumes_with_a_larger_one(tmp_path: Path) -> None:
    provider = FakeProvider(lambda request: "ok")
    out = tmp_path / "answers.jsonl"
    engine = Engine(architecture(provider, samples=2))
    budget = Budget(max_calls=5)
    with pytest.raises(BatchBudgetExceededError, match="budget of 5 calls") as stopped:
        await run_batch(
            engine,
            items(10),
            out,
            total=10,
            concurrency=1,
            progress=io.StringIO(),
            budget=budget,
        )
    # Python callers catch it as either: a stopped batch, and a budget exceeded.
    assert isinstance(stopped.value, BatchStoppedError | BudgetExceededError)
    assert stopped.value.budget is budget and stopped.value.not_started == 8
    message = str(stopped.value)
    # Prompts of 2 calls start while their 2 calls fit: 2 prompts, 4 calls, not over 5.
    assert "no room for another prompt (4 made; a prompt makes at least 2)" in message
    assert "answered 2 prompts" in message and budget.spent().calls == 4
    assert "8 prompts did not start" in message and "fix the cause" not in message
    assert not (tmp_path / "answers.jsonl.lock").exists()
    first = lines(out)
    assert [line["id"] for line in first] == ["q0", "q1"]
    assert all("error" not in line for line in first)  # stopped prompts leave no line
    stats = await run_batch(
        engine,
        items(10),
        out,
        total=10,
        concurrency=1,
        progress=io.StringIO(),
        budget=Budget(max_calls=100),
    )
    assert stats.skipped == 2 and stats.answered == 8
    assert sorted(line["id"] for line in lines(out)) == sorted(f"q{i}" for i in range(10))


@pytest.mark.parametrize("starts_per_turn", [1, 8])
async def test_prompts_in_flight_finish_when_the_budget_runs_out(
    tmp_path: Path, starts_per_turn: int
) -> None:
    gate = anyio.Event()

    async def held(request: ChatRequest) -> str:
        if len(provider.requests) == 4:  # four prompts in flight: let them all finish
            gate.set()
        await gate.wait()
        return "ok"

    provider = FakeProvider(held)
    out = tmp_path / "answers.jsonl"
    budget = Budget(max_calls=4)
    with pytest.raises(BatchStoppedError):
        await run_batch(
            Engine(architecture(provider)),
            items(20),
            out,
            total=20,
            concurrency=8,
            progress=io.StringIO(),
            budget=budget,
            starts_per_turn=starts_per_turn,
        )
    # Four prompts of one call fit in the cap and ran at once, held until all four were in
    # flight; no fifth started beside them, though 8 workers were free (and, with 8 starts
    # a turn, could all start in one turn): no overshoot.
    assert len(lines(out)) == 4 and budget.spent().calls == 4 and provider.max_in_flight == 4


async def test_a_cap_reached_mid_prompt_lets_the_prompts_in_flight_finish(
    tmp_path: Path,
) -> None:
    """A prompt that makes more than its least (a failed first call: the component is not
    answered, the batch retries the prompt) can reach a cap: the prompts in flight finish,
    no new one starts."""
    failed: set[str] = set()

    def first_call_fails(request: ChatRequest) -> str:
        prompt = last_user(request)
        if prompt not in failed:
            failed.add(prompt)
            raise ProviderServerError("busy", status_code=503)
        return "ok"

    provider = FakeProvider(first_call_fails)
    arch = architecture(provider)
    engine = Engine(arch, providers={"Fake_API": {"max_retries": 0}})
    out = tmp_path / "answers.jsonl"
    budget = Budget(max_calls=3)
    with pytest.raises(BatchBudgetExceededError, match="budget of 3 calls is spent"):
        await run_batch(
            engine,
            items(10),
            out,
            total=10,
            concurrency=2,
            progress=io.StringIO(),
            budget=budget,
        )
    # q0 and q1 started (1 call each at the least); each made 2 (its retry): 4 calls.
    assert sorted(line["id"] for line in lines(out)) == ["q0", "q1"]
    assert budget.spent().calls == 4


def test_the_estimate_of_the_default_architecture() -> None:
    default = Architecture.from_dict(DEFAULT_ARCHITECTURE)
    figures = estimate(default, ["x" * 400, "y" * 400]).to_dict()
    assert figures["prompts"] == 2
    # 10 samples + ranker + fuser, twice; at the high end the ranker asked 3 more times,
    # and each generator's model refusing the probe of n once (2 calls).
    assert figures["calls"] == [24, 30 + 2]
    low, high = figures["tokens"]
    assert 0 < low < high
    # The fuser and the ranker read the candidates: more input than the prompt alone.
    assert figures["input_tokens"][1] > 24 * 110


def test_cli_estimate_makes_no_call_and_max_calls_caps_a_batch(tmp_path: Path) -> None:
    estimate_run = run_cli("run", "--estimate", "What is 2 + 2?", env_without_keys=True)
    assert estimate_run.returncode == 0, estimate_run.stderr
    figures = orjson.loads(estimate_run.stdout)
    # 12; the high end: 3 parse retries, 2 refused probes of n (see the test above).
    assert figures["calls"] == [12, 17] and "calls" not in estimate_run.stderr
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(orjson.dumps({"id": i, "prompt": f"q {i}"}).decode() + "\n" for i in range(30))
    )
    out = tmp_path / "out.jsonl"
    args = ["batch", "--input", str(prompts), "--output", str(out), "--concurrency", "2"]
    capped = run_cli(*args, "--max-calls=30", env_without_keys=True)
    assert capped.returncode == 1, capped.stderr
    summary = summary_of(capped)
    # Prompts of 12 calls: two fit in 30 calls; a third would not, so it did not start.
    answered = summary["answered"]
    assert answered == 2 and summary["calls"] == 24
    stopped = summary["stopped"]
    assert "budget of 30 calls has no room for another prompt (24 made" in stopped
    assert f"answered {answered} prompts" in stopped and "fix the cause" not in stopped
    assert summary["not_started"] == 30 - answered
    assert f"{30 - answered} prompts did not start" in stopped
    # The command to go on: the same one, with room for the rest (12 calls each, + 10%).
    # It names the program as it was run (run_cli: python -m archon_async.cli), so that it
    # runs as printed.
    resume = shlex.split(summary["resume"])
    need = math.ceil(12 * (30 - answered) * 1.1)
    program = [sys.executable, "-m", "archon_async.cli"]
    assert resume == [*program, *args, "--max-calls", str(need)]
    assert summary["resume"] in stopped
    assert not out.with_name("out.jsonl.lock").exists()
    rest = run_cli(*resume[len(program) :], env_without_keys=True)
    assert rest.returncode == 0, rest.stderr
    summary = summary_of(rest)
    assert summary["skipped_already_done"] == answered and summary["answered"] == 30 - answered
    ids = [line["id"] for line in lines(out)]
    assert sorted(ids) == sorted(range(30))  # nothing lost, nothing answered twice
    assert not out.with_name("out.jsonl.lock").exists()


def test_cli_estimate_of_a_resumed_batch_leaves_out_what_is_answered(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(orjson.dumps({"id": i, "prompt": f"q {i}"}).decode() + "\n" for i in range(10))
    )
    out = tmp_path / "out.jsonl"
    args = ["batch", "--input", str(prompts), "--output", str(out)]
    first = run_cli(*args, "--limit", "4", env_without_keys=True)
    assert first.returncode == 0, first.stderr
    before = out.read_bytes()
    estimate = run_cli(*args, "--estimate", env_without_keys=True)
    assert estimate.returncode == 0, estimate.stderr
    figures = orjson.loads(estimate.stdout)
    assert figures["prompts"] == 6 and figures["already_answered"] == 4
    assert figures["calls"] == [6 * 12, 6 * 15 + 2]  # + 2 refused probes of n, once a run
    assert out.read_bytes() == before  # estimating changed nothing


def test_run_refuses_a_max_calls_below_one_prompt_before_any_call() -> None:
    done = run_cli("run", "--max-calls", "3", "What is 2 + 2?", env_without_keys=True)
    assert expect_status(done, 2).stdout == ""
    assert "--max-calls 3 is below the 12 calls one prompt" in done.stderr
    assert "give --max-calls 12 or more" in done.stderr
    # At or above the floor, the run answers; a cap it went over is said.
    done = run_cli("run", "--max-calls", "12", "--max-total-tokens", "10", "What is 2 + 2?",
                   env_without_keys=True)  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip(), done.stderr
    assert "over --max-total-tokens 10 (" in done.stderr


async def test_engine_batch_raises_budget_exceeded_to_python_callers(tmp_path: Path) -> None:
    provider = FakeProvider(lambda request: "ok")
    out = tmp_path / "answers.jsonl"
    seen: list[str] = []
    engine = Engine(architecture(provider), budget=Budget(max_calls=3))
    with pytest.raises(BudgetExceededError, match="budget of 3 calls") as stopped:
        async for line in engine.batch(items(10), output=out, concurrency=1):
            seen.append(line["id"])  # noqa: PERF401 (the lines before the stop are kept)
    assert isinstance(stopped.value, BatchStoppedError) and stopped.value.not_started == 7
    assert seen == ["q0", "q1", "q2"] and len(provider.requests) == 3
    assert not out.with_name("answers.jsonl.lock").exists()


@pytest.mark.parametrize(
    "budget",
    [
        Budget(max_tokens=50),  # 15 tokens a prompt: 3 fit
        Budget(max_cost_usd=0.00005, prices={"m": (1.0, 1.0)}),  # $0.000015 a prompt: 3 fit
    ],
    ids=["tokens", "cost"],
)
async def test_token_and_cost_caps_hold_for_a_batch_of_many_prompts_at_once(
    tmp_path: Path, budget: Budget
) -> None:
    """The first prompt runs alone (no share known yet); then prompts start while the
    average share of the finished ones fits: the cap holds though 8 workers are free."""
    provider = FakeProvider(lambda request: "ok")
    out = tmp_path / "answers.jsonl"
    with pytest.raises(BatchBudgetExceededError, match="no room for another prompt") as stopped:
        await run_batch(
            Engine(architecture(provider)), items(20), out, total=20, concurrency=8,
            progress=io.StringIO(), budget=budget,
        )  # fmt: skip
    assert len(lines(out)) == 3 and len(provider.requests) == 3
    assert budget.spent().tokens == 45 and stopped.value.not_started == 17
    assert "a prompt has" in str(stopped.value)


def test_least_calls_is_a_floor_of_what_an_answered_run_makes() -> None:
    default = Architecture.from_dict(DEFAULT_ARCHITECTURE)
    assert least_calls(default) == 12  # 10 samples, the ranker's call, the fuser's

    def spec(kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "model": "m", "model_type": "Fake_API", **fields}

    provider = FakeProvider(lambda request: "ok")

    def floor(*layers: list[dict[str, Any]]) -> int:
        arch = Architecture.from_dict({"layers": list(layers)}, registry=fake_registry(provider))
        return least_calls(arch)

    # One candidate: the ranker orders it without a call.
    assert floor([spec("generator")], [spec("ranker", top_k=1)]) == 1
    assert floor([spec("generator", samples=3)], [spec("critic")], [spec("fuser")]) == 5
    # After a verifier the candidates are not known: the ranker behind it counts nothing.
    verifier = spec("verifier")
    assert floor([spec("generator", samples=4)], [verifier], [spec("ranker", top_k=1)]) == 4


def test_cli_estimate_says_when_a_budget_will_stop_the_run(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(orjson.dumps({"id": i, "prompt": f"q {i}"}).decode() + "\n" for i in range(10))
    )
    args = ["batch", "--input", str(prompts), "--output", str(tmp_path / "o.jsonl"), "--estimate"]
    capped = run_cli(*args, "--max-calls", "30", env_without_keys=True)
    assert capped.returncode == 0, capped.stderr
    figures = orjson.loads(capped.stdout)
    assert figures["budget"] == [
        "--max-calls 30 is below the expected 120 to 152: the run stops after about 2 of 10 prompts"
    ]
    roomy = orjson.loads(run_cli(*args, "--max-calls", "500", env_without_keys=True).stdout)
    assert "budget" not in roomy


async def test_a_batch_budget_counts_the_calls_of_prompts_still_in_flight(tmp_path: Path) -> None:
    """``engine.batch(budget=...)`` charges its budget when a prompt ends, so the gate must
    count the calls a prompt in flight has already made: q1 has made its 3 samples and
    waits on its fuser when q0 ends; 4 + 3 made, 1 due and 4 for q2 is over 9: no q2."""
    q0_answered = anyio.Event()

    async def reply(request: ChatRequest) -> str:
        content = " ".join(str(m["content"]) for m in request.messages)
        if "candidate responses" in content and "question 1" in content:
            await q0_answered.wait()  # q1's fuser: held until q0's line is out
        return "ok"

    provider = FakeProvider(reply)
    spec = {"model": "m", "model_type": "Fake_API"}
    arch = Architecture.from_dict(
        {"layers": [[{"type": "generator", "samples": 3, **spec}], [{"type": "fuser", **spec}]]},
        registry=fake_registry(provider),
    )
    budget = Budget(max_calls=9)
    seen: list[str] = []
    with pytest.raises(BatchBudgetExceededError, match="no room for another prompt"):
        async with Engine(arch) as engine:
            async for line in engine.batch(
                items(6), output=tmp_path / "a.jsonl", concurrency=2, budget=budget
            ):
                seen.append(line["id"])
                q0_answered.set()
    assert sorted(seen) == ["q0", "q1"]
    assert len(provider.requests) == 8 and budget.spent().calls == 8


def test_the_resume_command_names_the_program_as_the_shell_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A virtual environment not activated: the resume command must say
    ``.venv/bin/archon-async`` (as it was run), or the shell cannot find it."""
    from archon_async._cli_callpath import invoked_as

    script = tmp_path / ".venv" / "bin" / "archon-async"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [".venv/bin/archon-async", "batch"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert invoked_as() == ".venv/bin/archon-async"
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}/usr/bin")  # activated
    assert invoked_as() == "archon-async"
    monkeypatch.setattr(sys, "argv", ["/x/archon_async/cli.py", "batch"])
    assert invoked_as() == f"{shlex.quote(sys.executable)} -m archon_async.cli"
