"""The command line, exercised as a user would: in a subprocess, on the simulated provider."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import orjson

from tests.cli_process import expect_status, start_cli
from tests.conftest import ROOT, run_cli, summary_of


def cli(
    *args: str, timeout: float = 120, env_without_keys: bool = False
) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, timeout=timeout, env_without_keys=env_without_keys)


def test_run_answers_with_the_built_in_default_and_no_key() -> None:
    done = cli("run", "What is 17 * 23?", env_without_keys=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert "12 calls" in done.stderr  # 10 samples + ranker + fuser


def test_run_takes_its_question_after_the_options_too() -> None:
    done = cli("run", "configs/single_model.json", "--simulate", "--trace", "What is 2 + 2?")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() and '"layers"' in done.stderr  # the trace, on stderr
    wrong = cli("run", "configs/single_model.json", "--simulate", "Q?", "--no-such-option")
    assert wrong.returncode == 2 and "unrecognized arguments: --no-such-option" in wrong.stderr


def test_validate_reports_warnings_and_errors(tmp_path: Path) -> None:
    shared = ROOT / "configs" / "archon"
    name = (
        "MoA_three_proposer_layers_of_70Bx8_models_to_4_models_to_2_models_"
        "with_Qwen2_72B_for_aggregation_layer_length_control.json"
    )
    done = cli("validate", str(shared / name))
    assert done.returncode == 0, done.stderr
    assert "did you mean 'length_control'" in done.stdout
    bad = tmp_path / "bad.json"
    bad.write_text('{"layers": [[{"type": "generator", "model": "m", "model_type": "Nope"}]]}')
    pairrm = shared / "archon-1-110bFuser-1-PairRM3-8-70BM3S.json"
    done = cli("validate", str(bad), str(pairrm))
    expect_status(done, 1)
    assert "layers[0][0].model_type" in done.stderr
    # The other file is still checked, and what it needs to run is said.
    assert f"ok {pairrm}" in done.stdout
    assert "needs a scoring backend" in done.stdout


def _lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.endswith(b"}")]


def test_batch_killed_mid_run_resumes_without_duplicates(tmp_path: Path) -> None:
    prompts = tmp_path / "in.jsonl"
    prompts.write_text(
        "".join(
            orjson.dumps({"id": f"p{i}", "prompt": f"Question number {i}?"}).decode() + "\n"
            for i in range(60)
        )
    )
    out = tmp_path / "out.jsonl"
    args = [
        "batch",
        "configs/single_model.json",
        "--input",
        str(prompts),
        "--output",
        str(out),
        "--simulate",
        "--simulate-latency-ms",
        "150",
        "--concurrency",
        "2",
    ]
    with start_cli(*args, logs=tmp_path / "logs") as child:
        child.wait_until(lambda: len(_lines(out)) >= 6, timeout=60)
        child.kill()
    first = _lines(out)
    assert 6 <= len(first) < 60  # killed part-way
    done = cli(*args[:-4], "--concurrency", "16")
    assert done.returncode == 0, done.stderr
    ids = [line["id"] for line in _lines(out)]
    assert len(ids) == len(set(ids)) == 60
    assert set(ids) == {f"p{i}" for i in range(60)}
    assert all("answer" in line for line in _lines(out))


def test_benchmark_batch_then_judge_on_the_simulated_provider(tmp_path: Path) -> None:
    answers = tmp_path / "mt.jsonl"
    done = cli(
        "batch",
        "configs/single_model.json",
        "--benchmark",
        "mt_bench",
        "--limit",
        "3",
        "--simulate",
        "--output",
        str(answers),
    )
    assert done.returncode == 0, done.stderr
    lines = _lines(answers)
    assert len(lines) == 3 and all(len(line["turns"]) == 2 for line in lines)  # type: ignore[arg-type]
    official = tmp_path / "mt.official.jsonl"
    record = orjson.loads(official.read_bytes().splitlines()[0])
    assert set(record) >= {"question_id", "answer_id", "model_id", "choices", "tstamp"}
    done = cli("judge", "--benchmark", "mt_bench", "--answers", str(answers), "--simulate")
    assert done.returncode == 0, done.stderr
    summary = summary_of(done)
    assert summary["graded"] == 6 and summary["unparsed"] == 0 and summary["failed"] == 0
    assert 1 <= summary["mean_rating"] <= 10


def test_gsm8k_batch_scores_with_exact_match(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    done = cli(
        "batch",
        "configs/single_model.json",
        "--benchmark",
        "gsm8k",
        "--sample",
        "20",
        "--seed",
        "4",
        "--simulate",
        "--output",
        str(tmp_path / "g.jsonl"),
        "--summary",
        str(summary_path),
    )
    assert done.returncode == 0, done.stderr
    summary = orjson.loads(summary_path.read_bytes())
    assert summary["answered"] == 20 and summary["score"]["scored"] == 20
    # The simulated model answers a known question right with probability 0.7.
    assert 0.3 <= summary["score"]["accuracy"] <= 1.0
    assert summary["per_model"]["meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo"]["calls"] == 20


def test_judge_summary_counts_calls_and_cache_hits_and_a_budget_stop_still_reports(
    tmp_path: Path,
) -> None:
    answers = tmp_path / "mt.jsonl"
    done = cli(
        "batch", "configs/single_model.json", "--benchmark", "mt_bench", "--limit", "3",
        "--simulate", "--output", str(answers),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    cache = tmp_path / "cache.sqlite"
    judge = ["judge", "--benchmark", "mt_bench", "--answers", str(answers), "--simulate"]
    first = cli(*judge, "--cache", str(cache), "--output", str(tmp_path / "j1.jsonl"))
    assert first.returncode == 0, first.stderr
    spent = summary_of(first)
    assert spent["graded"] == 6 and spent["calls"] == 6 and spent["cache_hits"] == 0
    assert "estimated_cost_usd" in spent and "per_model" in spent
    # Every run on this output, as its spend journal holds it (a killed run included).
    assert spent["spent_all_runs"]["calls"] == 6
    again = cli(*judge, "--cache", str(cache), "--output", str(tmp_path / "j2.jsonl"))
    assert again.returncode == 0, again.stderr
    assert summary_of(again)["cache_hits"] == 6
    capped = cli(
        *judge, "--max-calls", "2", "--concurrency", "1", "--output", str(tmp_path / "j3.jsonl")
    )
    expect_status(capped, 1)
    stopped = summary_of(capped)
    assert "budget" in stopped["stopped"] and stopped["calls"] >= 2
    assert stopped["judgements"] == str(tmp_path / "j3.jsonl")
    # One judge call a request: exactly 2 calls, 4 requests left, and the command to go on.
    assert stopped["calls"] == 2 and stopped["not_started"] == 4
    resume = shlex.split(stopped["resume"])
    assert resume[resume.index("--max-calls") + 1] == "5"  # 4 more at 1 call each, + 10%
    assert stopped["resume"] in stopped["stopped"]
