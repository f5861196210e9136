"""The program leaves after a batch without the interpreter's teardown (freeing every object
one by one: 1.5 % of a cached rerun's instructions, bench/RESULTS.md), yet does what Python's
exit does first: joins the threads, runs every ``atexit`` handler, flushes its output; after
another command, or from a caller's ``main()``, Python's own exit is left as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from tests.conftest import ROOT

#: The program as its script runs it, with a witness of each step of the exit: a line
#: left in stdout's buffer, an atexit handler, a non-daemon thread that finishes during the
#: exit, and a watcher of the collector put in place by the last atexit handler to run (the
#: first registered): the interpreter's teardown starts with a collection, which it sees.
_PROGRAM = """
import atexit, gc, os, sys, threading, time
from archon_async import cli

def watch_the_teardown():
    def seen(phase, info, write=os.write):
        if phase == "start":
            write(1, b"teardown ran\\n")  # the descriptor itself: no buffer flushed then
    gc.callbacks.append(seen)

atexit.register(watch_the_teardown)
atexit.register(lambda: sys.stdout.write("atexit ran\\n"))
def late(path=sys.argv[1]):
    time.sleep(0.5)
    with open(path, "w") as marker:
        marker.write("thread done")
threading.Thread(target=late).start()
sys.argv = ["archon-async", *sys.argv[2:]]
sys.stdout.write("buffered line\\n")
cli.command()
"""


def _program(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    marker = tmp_path / "thread.txt"
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, str(marker), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "OPENAI_API_KEY": "sk-test-exit"},
        check=False,
    )
    return done, marker


def _prompts(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(f'{{"id": "q{i}", "prompt": "question {i}"}}\n' for i in range(3)))
    return path


def test_after_a_batch_the_program_skips_the_teardown_and_keeps_the_rest_of_the_exit(
    tmp_path: Path,
) -> None:
    output = tmp_path / "answers.jsonl"
    done, marker = _program(
        tmp_path, "batch", "--input", str(_prompts(tmp_path)), "--output", str(output)
    )
    assert done.returncode == 0, done.stderr
    assert "buffered line" in done.stdout
    assert "atexit ran" in done.stdout
    assert "teardown ran" not in done.stdout  # no collection, no freeing one by one
    assert marker.read_text() == "thread done"  # the thread was joined before leaving
    answers = [orjson.loads(line) for line in output.read_bytes().splitlines()]
    assert sorted(line["id"] for line in answers) == ["q0", "q1", "q2"]
    assert all(line["answer"] for line in answers)
    assert not (tmp_path / "answers.jsonl.lock").exists()
    assert '"answered": 3' in done.stdout + done.stderr  # the summary, flushed


def test_a_batch_whose_prompts_failed_leaves_with_its_status(tmp_path: Path) -> None:
    inputs = tmp_path / "prompts.jsonl"
    inputs.write_text('{"id": "q0", "prompt": "question"}\n')
    config = tmp_path / "bad.json"
    # Nothing listens on port 9 (discard): the call fails after its retries, and the
    # prompt is held for the provider to come back only briefly.
    config.write_text(
        '{"layers": [[{"type": "generator", "model": "m", "model_type": "OpenAI_API"}]]}'
    )
    done, _ = _program(
        tmp_path,
        "batch",
        str(config),
        "--input",
        str(inputs),
        "--output",
        str(tmp_path / "a.jsonl"),
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--provider-down-wait",
        "0.1",
    )
    assert done.returncode == 1, done.stderr  # every prompt failed: main()'s status
    assert "atexit ran" in done.stdout
    assert "teardown ran" not in done.stdout


def test_another_command_exits_as_python_does(tmp_path: Path) -> None:
    done, marker = _program(tmp_path, "validate", str(ROOT / "configs" / "default.json"))
    assert done.returncode == 0, done.stderr
    assert "atexit ran" in done.stdout
    assert "teardown ran" in done.stdout
    assert marker.read_text() == "thread done"
