"""Per-item verdicts of code benchmarks, the time limit and isolation in the summary, and the
refusal to score without isolation, from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from archon_async.benchmarks import Sandbox, ScoreResult, get_benchmark, score_code
from archon_async.benchmarks._verdicts import annotate_answers
from tests.cli_process import expect_status
from tests.conftest import ROOT, run_cli


def _lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


async def test_each_answer_line_carries_its_verdict_and_the_summary_its_sandbox(
    tmp_path: Path,
) -> None:
    output, summary = tmp_path / "mbpp.jsonl", tmp_path / "summary.json"
    done = run_cli(
        "batch", "configs/single_model.json", "--benchmark", "mbpp", "--simulate",
        "--limit", "16", "--output", str(output),
        "--summary", str(summary), "--code-timeout", "20",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    score = orjson.loads(summary.read_bytes())["score"]
    assert score["sandbox"]["timeout_s"] == 20.0
    assert score["sandbox"]["isolation"] in ("bwrap", "unshare")
    records = _lines(output)
    assert len(records) == 16
    # Each line's verdict is its own answer's: scoring it again gives the same.
    items = {item.id: item for item in get_benchmark("mbpp").items()}
    sandbox = Sandbox(timeout_s=20)
    for record in records:
        again = await score_code(
            "mbpp", items[str(record["id"])], str(record["answer"]), sandbox=sandbox
        )
        assert record["correct"] is again.correct
        assert record["sandbox"] == {"status": again.status, "detail": again.detail}
    passed = sum(record["correct"] is True for record in records)
    assert passed == score.get("passed", 0) and 0 < passed < 16  # one call: some right, some not


def test_text_benchmark_lines_carry_correct_without_a_sandbox(tmp_path: Path) -> None:
    output, summary = tmp_path / "gsm8k.jsonl", tmp_path / "summary.json"
    done = run_cli(
        "batch", "configs/single_model.json", "--benchmark", "gsm8k", "--simulate",
        "--limit", "20", "--output", str(output), "--summary", str(summary),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = _lines(output)
    assert all(
        isinstance(record["correct"], bool) and "sandbox" not in record for record in records
    )
    score = orjson.loads(summary.read_bytes())["score"]
    assert sum(record["correct"] is True for record in records) == score["correct"]
    assert "sandbox" not in score


def test_without_isolation_the_run_stops_before_any_call(tmp_path: Path) -> None:
    output = tmp_path / "humaneval.jsonl"
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}  # no bwrap, no unshare
    done = subprocess.run(
        [sys.executable, "-m", "archon_async.cli", "batch", "--benchmark", "humaneval",
         "--simulate", "--limit", "2", "--output", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, env=env, check=False,
    )  # fmt: skip
    expect_status(done, 1)
    assert "no isolation for untrusted code works here" in done.stderr
    assert "--unsafe-no-sandbox" in done.stderr and "allow_unsafe" not in done.stderr
    assert not output.exists()  # refused before any answer was asked for
    allowed = subprocess.run(
        [sys.executable, "-m", "archon_async.cli", "batch", "--benchmark", "humaneval",
         "--simulate", "--limit", "2", "--output", str(output), "--unsafe-no-sandbox",
         "--code-timeout", "20", "--summary", str(tmp_path / "s.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=240, env=env, check=False,
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    sandbox = orjson.loads((tmp_path / "s.json").read_bytes())["score"]["sandbox"]
    assert sandbox["isolation"] == "none" and sandbox["timeout_s"] == 20.0


def test_a_time_limit_that_is_not_positive_is_refused() -> None:
    # A usage error (exit 2), as every flag value that means nothing is.
    done = run_cli("batch", "--benchmark", "mbpp", "--simulate", "--code-timeout", "0")
    assert done.returncode == 2, done.stderr
    assert "argument --code-timeout: 0 must be a finite number above 0" in done.stderr


def test_annotating_keeps_every_other_line_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "answers.jsonl"
    error = b'{"id":"2","error":"timeout"}\n'
    cut = b'{"id":"3","answ'
    path.write_bytes(
        b'{"id":"1","answer":"a"}\n' + error + b'{"id":"4","answer":"b"}\n'
        + b'{"id":"1","answer":"c"}\n' + cut
    )  # fmt: skip
    results = [
        ScoreResult("1", True, "x", "passed"),
        ScoreResult("2", False, None, "error", "no answer"),
        ScoreResult("4", False, "y", "timeout", "over the time limit of 3 s"),
    ]
    assert annotate_answers(path, results, code=True) == 3
    lines = path.read_bytes().splitlines(keepends=True)
    assert orjson.loads(lines[0]) == {
        "id": "1", "answer": "a", "correct": True, "sandbox": {"status": "passed", "detail": ""},
    }  # fmt: skip
    assert lines[1] == error and lines[4] == cut
    assert orjson.loads(lines[2])["sandbox"] == {
        "status": "timeout", "detail": "over the time limit of 3 s",
    }  # fmt: skip
    assert orjson.loads(lines[3])["correct"] is True
    assert annotate_answers(path, results[:1], code=False) == 2
    assert "sandbox" in orjson.loads(path.read_bytes().splitlines()[0])  # replaced, not lost
    assert not list(tmp_path.glob("*.scoring"))
