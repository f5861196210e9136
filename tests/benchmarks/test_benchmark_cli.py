"""The benchmark side of the command line: simulated runs, official formats, judging."""

from __future__ import annotations

import argparse
import io
import subprocess
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from archon_async import Engine, InvalidInputError
from archon_async._batch import run_batch
from archon_async._cli_benchmark import add_benchmark_options, benchmark_items
from archon_async.benchmarks import get_benchmark, simulated_answer_key
from archon_async.simulate import SimulationSettings
from tests.benchmarks.test_benchmark_loaders import write_mixeval
from tests.cli_process import expect_status
from tests.conftest import ROOT, run_cli, summary_of

ARENA_UID = "328c149ed45a41c0b9d6f14659e63599"  # the first Arena-Hard question


def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, timeout=timeout)


def judge_arena(answers: Path, baseline: Path) -> subprocess.CompletedProcess[str]:
    """``archon-async judge`` on Arena-Hard answers against a baseline, simulated."""
    return cli(
        "judge", "--benchmark", "arena_hard", "--answers", str(answers),
        "--baseline", str(baseline), "--simulate",
    )  # fmt: skip


def namespace(benchmark: str, **options: Any) -> argparse.Namespace:
    """The options `benchmark_items` reads, as the batch command parses them."""
    values: dict[str, Any] = {
        "benchmark": benchmark,
        "data": None,
        "limit": None,
        "sample": None,
        "seed": 0,
        "config": None,
    }
    values.update(options)
    return argparse.Namespace(**values)


def test_simulated_humaneval_batch_has_a_nonzero_pass_rate(tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    done = cli(
        "batch",
        "--benchmark",
        "humaneval",
        "--simulate",
        "--limit",
        "8",
        "--output",
        str(tmp_path / "h.jsonl"),
        "--summary",
        str(summary),
    )
    assert done.returncode == 0, done.stderr
    score = orjson.loads(summary.read_bytes())["score"]
    assert score["scored"] == 8
    assert score["accuracy"] > 0.3, score
    assert score.get("passed", 0) >= 3


def simulated_accuracy(name: str, skill: float, tmp_path: Path, limit: int) -> float:
    """pass@1 (or accuracy) of one simulated model of ``skill`` on ``name``'s first items."""
    items, total, _, finish, key = benchmark_items(namespace(name, limit=limit))
    settings = SimulationSettings(skill=skill, answer_key=key)
    architecture = ROOT / "configs" / "single_model.json"
    engine = Engine(architecture, simulate=settings, seed=1)
    output = tmp_path / f"{name}-{skill}.jsonl"

    async def go() -> Any:
        return await run_batch(engine, items, output, total=total, progress=io.StringIO())

    anyio.run(go)
    return float(finish(output)["score"]["accuracy"])


@pytest.mark.parametrize("name", ["mbpp", "humaneval"])
def test_simulated_scores_rise_with_the_models_skill(name: str, tmp_path: Path) -> None:
    weak = simulated_accuracy(name, 0.15, tmp_path, limit=12)
    strong = simulated_accuracy(name, 0.95, tmp_path, limit=12)
    assert strong >= 0.75, strong
    assert strong > weak, (weak, strong)


def test_the_answer_key_holds_answers_the_scorers_accept(tmp_path: Path) -> None:
    humaneval = get_benchmark("humaneval").items()[:2]
    key = simulated_answer_key("humaneval", humaneval)
    answer = key[humaneval[0].messages[-1]["content"]]
    assert answer.startswith("```python\n") and answer.rstrip().endswith("```")
    assert "def has_close_elements" in answer and "check(" not in answer
    mbpp = get_benchmark("mbpp").items()[:1]
    (code,) = simulated_answer_key("mbpp", mbpp).values()
    assert "def remove_Occ" in code and "assert" not in code
    data = tmp_path / "math.jsonl"
    data.write_bytes(orjson.dumps({"problem": "1+1?", "solution": "$\\boxed{2}$"}) + b"\n")
    math = get_benchmark("math", path=data).items()
    assert list(simulated_answer_key("math", math).values()) == ["\\boxed{2}"]
    # The simulated reply ("... The answer is X.") is scored right, for every benchmark.
    from archon_async.benchmarks import score

    assert score("math", math[0], "Some words. The answer is \\boxed{2}.").correct
    gsm8k = get_benchmark("gsm8k").items()[:1]
    assert list(simulated_answer_key("gsm8k", gsm8k).values()) == ["18"]
    write_mixeval(tmp_path / "mix")
    mixeval = get_benchmark("mixeval", path=tmp_path / "mix").items()
    assert list(simulated_answer_key("mixeval", mixeval).values()) == ["Paris", "B"]


async def test_simulated_code_answers_pass_in_the_sandbox() -> None:
    from archon_async.benchmarks import Sandbox, score_code

    sandbox = Sandbox(timeout_s=10)
    for name in ("humaneval", "mbpp"):
        items = get_benchmark(name).items()[:3]
        key = simulated_answer_key(name, items)
        for item in items:
            reply = f"Some words first. The answer is {key[item.messages[-1]['content']]}."
            verdict = await score_code(name, item, reply, sandbox=sandbox)
            assert verdict.correct, (name, item.id, verdict)


def fake_answers(path: Path, ids: list[str]) -> Path:
    path.write_bytes(
        b"".join(
            orjson.dumps({"id": ident, "answer": f"answer to {ident}"}) + b"\n" for ident in ids
        )
    )
    return path


def test_judged_summary_names_the_judge_command(tmp_path: Path) -> None:
    uid = ARENA_UID
    _, _, _, finish, _ = benchmark_items(namespace("arena_hard", limit=1))
    report = finish(fake_answers(tmp_path / "a.jsonl", [uid]))
    assert "archon-async judge" in report["scoring"]
    assert "--benchmark arena_hard" in report["scoring"]
    assert "archon_async.benchmarks.judge" not in report["scoring"]


def test_the_format_option_writes_arena_hards_v0_1_answers(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_benchmark_options(parser)
    assert parser.parse_args([]).format == "current"
    assert parser.parse_args(["--format", "legacy"]).format == "legacy"
    with pytest.raises(SystemExit):
        parser.parse_args(["--format", "v2"])

    uid = ARENA_UID
    _, _, _, finish, _ = benchmark_items(namespace("arena_hard", limit=1, format="legacy"))
    report = finish(fake_answers(tmp_path / "a.jsonl", [uid]))
    (path,) = report["official_files"]
    (row,) = [orjson.loads(line) for line in Path(path).read_bytes().splitlines()]
    assert set(row) == {
        "question_id",
        "answer_id",
        "model_id",
        "choices",
        "tstamp",
        "conv_metadata",
    }
    assert row["conv_metadata"]["token_len"] == row["choices"][0]["turns"][0]["token_len"]
    assert report["token_len"].startswith("cl100k_base tokens")
    assert row["question_id"] == uid
    (choice,) = row["choices"]
    assert choice["index"] == 0
    (turn,) = choice["turns"]
    assert turn["content"] == f"answer to {uid}" and isinstance(turn["token_len"], int)

    _, _, _, finish, _ = benchmark_items(namespace("arena_hard", limit=1, format="current"))
    report = finish(fake_answers(tmp_path / "b.jsonl", [uid]))
    (row,) = [
        orjson.loads(line) for line in Path(report["official_files"][0]).read_bytes().splitlines()
    ]
    assert row["uid"] == uid


def test_the_legacy_format_is_refused_where_it_does_not_exist() -> None:
    with pytest.raises(InvalidInputError, match="arena_hard"):
        benchmark_items(namespace("gsm8k", limit=1, format="legacy"))


def test_mixeval_runs_say_the_prompts_are_ours(tmp_path: Path) -> None:
    write_mixeval(tmp_path / "mix")
    _, _, _, finish, _ = benchmark_items(namespace("mixeval", data=tmp_path / "mix"))
    report = finish(fake_answers(tmp_path / "m.jsonl", ["ff-0", "mc-0"]))
    assert "leaderboard" in report["note"] and "our own" in report["note"]
    assert "leaderboard" in get_benchmark("mixeval").title.lower()


def arena_answers(tmp_path: Path) -> Path:
    uids = [item.id for item in get_benchmark("arena_hard").items()[:2]]
    return fake_answers(tmp_path / "arena.jsonl", uids)


def test_judge_without_a_needed_baseline_says_to_pass_one(tmp_path: Path) -> None:
    answers = arena_answers(tmp_path)
    done = cli("judge", "--benchmark", "arena_hard", "--answers", str(answers), "--simulate")
    expect_status(done, 1)
    assert "--baseline" in done.stderr and "Traceback" not in done.stderr
    # A baseline that lacks some of the questions is named too.
    partial = tmp_path / "partial.jsonl"
    first = get_benchmark("arena_hard").items()[0].id
    partial.write_bytes(orjson.dumps({"id": first, "answer": "base"}) + b"\n")
    done = judge_arena(answers, partial)
    assert done.returncode == 1 and "--baseline" in done.stderr and "1 of 2" in done.stderr


def official_baselines(tmp_path: Path) -> dict[str, Path]:
    """Arena-Hard's baseline answers (gpt-4-0314) in its v0.1 and its current format."""
    items = get_benchmark("arena_hard").items()[:2]
    legacy = tmp_path / "model_answer_v0.1" / "gpt-4-0314.jsonl"
    current = tmp_path / "model_answer" / "gpt-4-0314.jsonl"
    legacy.parent.mkdir()
    current.parent.mkdir()
    legacy.write_bytes(
        b"".join(
            orjson.dumps(
                {
                    "question_id": item.id,
                    "answer_id": "x",
                    "model_id": "gpt-4-0314",
                    "choices": [{"index": 0, "turns": [{"content": "base", "token_len": 1}]}],
                    "tstamp": 1.0,
                }
            )
            + b"\n"
            for item in items
        )
    )
    current.write_bytes(
        b"".join(
            orjson.dumps(
                {
                    "uid": item.id,
                    "ans_id": "y",
                    "model": "gpt-4-0314",
                    "messages": [
                        {"role": "user", "content": item.metadata["prompt"]},
                        {"role": "assistant", "content": {"answer": "base"}},
                    ],
                    "tstamp": 1.0,
                    "metadata": {"token_len": 1},
                }
            )
            + b"\n"
            for item in items
        )
    )
    return {"legacy": legacy, "current": current}


@pytest.mark.parametrize("shape", ["legacy", "current"])
def test_judge_accepts_the_official_baseline_answers(tmp_path: Path, shape: str) -> None:
    answers = arena_answers(tmp_path)
    baseline = official_baselines(tmp_path)[shape]
    done = judge_arena(answers, baseline)
    assert done.returncode == 0, done.stderr
    summary = summary_of(done)
    assert summary["graded"] == 4 and summary["failed"] == 0
