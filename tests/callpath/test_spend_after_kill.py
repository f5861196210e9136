"""A run killed with SIGKILL mid-way and resumed counts every call it sent: the spend after
the resume is never below what the (counting) simulated provider received, and above it by
at most the calls that were in flight at the kill."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import orjson

from archon_async.callpath import SpendJournal
from tests.cli_process import cli_env, expect_status, run_cli, start_cli
from tests.search._spaces import small_space, write

_COUNTING = "tests.callpath.counting_cli"  # archon-async, its provider counting requests


def received(requests: Path) -> int:
    """Calls the provider received (a request of n samples is n calls)."""
    if not requests.exists():
        return 0
    return sum(int(line) for line in requests.read_text().split())


def run(args: list[str], requests: Path) -> subprocess.CompletedProcess[str]:
    """The run, with the counting provider, waited for; failed unless it exits with 0."""
    env = cli_env(ARCHON_TEST_REQUESTS=str(requests))
    return expect_status(run_cli(*args, module=_COUNTING, env=env, timeout=600))


def kill_mid_run(args: list[str], requests: Path, ready: Callable[[], bool]) -> None:
    """Start the run, wait until ``ready()`` and then until 5 more calls were received
    (sent since the run last saved anything), and kill it with SIGKILL."""
    env = cli_env(ARCHON_TEST_REQUESTS=str(requests))
    logs = requests.parent / "logs"
    with start_cli(*args, logs=logs, module=_COUNTING, env=env) as child:
        child.wait_until(ready, timeout=300)
        mark = received(requests)
        child.wait_until(lambda: received(requests) >= mark + 5)
        child.kill()


def test_a_killed_search_counts_every_call_it_sent_after_the_resume(tmp_path: Path) -> None:
    space = small_space(evaluations=6, parallel=2, dev_questions=12, held_out_questions=0)
    path = write(tmp_path, space)
    run_dir = tmp_path / "run"
    requests = tmp_path / "requests.txt"
    args = ["search", str(path), "--simulate", "--algorithm", "random_search", "--seed", "3"]
    args += ["--quiet", "--run-dir", str(run_dir), "--budget-calls", "100000"]
    board = run_dir / "leaderboard.jsonl"
    kill_mid_run(args, requests, lambda: board.exists() and board.read_bytes().count(b"\n") >= 2)
    sent_before_kill = received(requests)
    journal = SpendJournal.totals(run_dir / "spend.journal.jsonl")
    assert journal is not None
    in_flight = journal.unfinished
    assert sent_before_kill <= journal.calls <= sent_before_kill + in_flight
    run(args, requests)
    spent = orjson.loads((run_dir / "spent.json").read_bytes())
    # Every call the provider received is counted; at most those in flight at the kill twice.
    assert received(requests) <= spent["calls"] <= received(requests) + in_flight


def test_a_killed_batch_counts_every_call_it_sent_after_the_resume(tmp_path: Path) -> None:
    prompts = tmp_path / "in.jsonl"
    lines = (orjson.dumps({"id": f"p{i}", "prompt": f"Question {i}?"}) + b"\n" for i in range(40))
    prompts.write_bytes(b"".join(lines))
    out = tmp_path / "out.jsonl"
    requests = tmp_path / "requests.txt"
    args = ["batch", "default", "--input", str(prompts), "--output", str(out), "--simulate"]
    args += ["--simulate-latency-ms", "50", "--concurrency", "4"]
    kill_mid_run(args, requests, lambda: out.exists() and out.read_bytes().count(b"\n") >= 3)
    answered = [orjson.loads(line) for line in out.read_bytes().splitlines() if line.endswith(b"}")]
    assert 3 <= len(answered) < 40
    journal = SpendJournal.totals(out.with_name("out.jsonl.spend.jsonl"))
    assert journal is not None
    in_flight = journal.unfinished
    # What the answer lines say was spent misses the prompts in flight: the journal does not.
    assert sum(line["calls"] for line in answered) < received(requests) <= journal.calls
    done = run(args, requests)
    summary = orjson.loads(done.stderr[done.stderr.index("{") :])
    all_runs = summary["spent_all_runs"]
    assert received(requests) <= all_runs["calls"] <= received(requests) + in_flight
    assert all_runs["input_tokens"] > 0 and all_runs["unfinished_calls"] == in_flight
