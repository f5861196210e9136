"""``archon-async batch`` as a user runs it: standard input and output, the output file kept
safe (refused when it is not this architecture's answers, locked against a second run),
every bad input line said, progress and the bill of an interrupted run."""

from __future__ import annotations

import signal
import time
from functools import partial
from pathlib import Path

import orjson

from tests.cli_process import expect_status, run_cli, start_cli
from tests.conftest import summary_of


def _prompts(path: Path, count: int) -> Path:
    path.write_text(
        "".join(
            orjson.dumps({"id": i, "prompt": f"Question {i}?"}).decode() + "\n"
            for i in range(count)
        )
    )
    return path


def test_standard_input_to_standard_output() -> None:
    prompts = "".join(
        orjson.dumps({"id": f"q{i}", "prompt": f"Question {i}?"}).decode() + "\n" for i in range(3)
    )
    done = run_cli(
        "batch", "configs/single_model.json", "--input", "-", "--output", "-", "--simulate",
        input=prompts, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert sorted(line["id"] for line in lines) == ["q0", "q1", "q2"]
    assert all(line["answer"] for line in lines)
    summary = summary_of(done)  # the summary stays on standard error
    assert summary["answered"] == 3 and summary["output"] == "-"


def test_a_bad_line_of_standard_input_is_named_as_standard_input() -> None:
    # Standard input is spooled to a temporary file to be checked whole; its bad lines and
    # an empty input were named by that file's path, which the user never gave.
    prompts = '{"id": "a", "prompt": "fine"}\n{"prompt": "no id"}\n'
    done = run_cli(
        "batch", "configs/single_model.json", "--input", "-", "--output", "-", "--simulate",
        input=prompts, timeout=120,
    )  # fmt: skip
    expect_status(done, 1)
    assert "standard input: 1 bad line, nothing was run" in done.stderr
    assert "standard input, line 2: 'id' must be" in done.stderr
    assert "archon-async-stdin-" not in done.stderr and done.stdout == ""
    empty = run_cli(
        "batch", "configs/single_model.json", "--input", "-", "--simulate", input="", timeout=120
    )
    expect_status(empty, 1)
    assert "standard input: the input file has no prompt" in empty.stderr


def test_the_input_file_is_never_the_output(tmp_path: Path) -> None:
    prompts = _prompts(tmp_path / "in.jsonl", 3)
    before = prompts.read_bytes()
    done = run_cli(
        "batch", "configs/single_model.json", "--input", str(prompts), "--output",
        str(prompts), "--simulate",
    )  # fmt: skip
    expect_status(done, 2)
    assert "is the input file" in done.stderr
    assert prompts.read_bytes() == before


def test_an_output_that_is_not_an_answers_file_is_left_untouched(tmp_path: Path) -> None:
    prompts = _prompts(tmp_path / "in.jsonl", 3)
    notes = tmp_path / "notes.jsonl"
    notes.write_text('{"id": 1, "note": "my own data"}\n{"id": 2, "note": "more"}\n')
    before = notes.read_bytes()
    done = run_cli(
        "batch", "configs/single_model.json", "--input", str(prompts), "--output",
        str(notes), "--simulate",
    )  # fmt: skip
    expect_status(done, 1)
    assert "not an answer line" in done.stderr and "line 1" in done.stderr
    assert notes.read_bytes() == before
    # A copy of the input under another name is refused the same way.
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(prompts.read_bytes())
    done = run_cli(
        "batch", "configs/single_model.json", "--input", str(prompts), "--output",
        str(copy), "--simulate",
    )  # fmt: skip
    expect_status(done, 1)
    assert copy.read_bytes() == prompts.read_bytes()


def test_two_runs_on_one_output_do_not_both_answer(tmp_path: Path) -> None:
    prompts = _prompts(tmp_path / "in.jsonl", 40)
    out = tmp_path / "out.jsonl"
    args = (
        "batch", "configs/single_model.json", "--input", str(prompts), "--output", str(out),
        "--simulate", "--simulate-latency-ms", "1000", "--concurrency", "1",
    )  # fmt: skip
    # Ctrl-C as in a terminal, whatever the tests were started with: a script's background
    # job (CI under nohup or `&`) passes SIGINT on ignored, and this run then answered all
    # 40 prompts and exited 0.
    as_in_a_terminal = partial(signal.signal, signal.SIGINT, signal.SIG_DFL)
    with start_cli(*args, logs=tmp_path / "logs", preexec_fn=as_in_a_terminal) as first:
        first.wait_until(lambda: out.exists() and bool(out.read_bytes()), timeout=60)
        second = run_cli(*args, timeout=120)
        assert "another run is writing" in expect_status(second, 1).stderr
        interrupted = first.kill(signal.SIGINT)
    ids = [orjson.loads(line)["id"] for line in out.read_bytes().splitlines()]
    assert len(ids) == len(set(ids))  # nothing answered twice
    # Interrupted (and refused) runs leave no lock file behind.
    expect_status(interrupted, 130)
    assert not out.with_name("out.jsonl.lock").exists()


def test_an_empty_input_file_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    done = run_cli("batch", "--input", str(empty), "--output", str(tmp_path / "o.jsonl"))
    expect_status(done, 1)
    assert "has no prompt" in done.stderr


def test_every_bad_input_line_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": 1, "prompt": "fine"}\n'
        "not json\n"
        '{"id": 2}\n'
        '{"id": 1, "prompt": "again"}\n'
        + "".join(f'{{"prompt": "no id {i}"}}\n' for i in range(30))
    )
    done = run_cli("batch", "--input", str(bad), "--output", str(tmp_path / "o.jsonl"))
    expect_status(done, 1)
    assert "33 bad lines" in done.stderr
    for words in ("line 2: not valid JSON", "line 3: give exactly one", "line 4: id '1'"):
        assert words in done.stderr
    assert "... and 13 more" in done.stderr  # the first 20 are listed
    assert not (tmp_path / "o.jsonl").exists()


def test_a_run_shorter_than_the_report_interval_still_reports(tmp_path: Path) -> None:
    prompts = _prompts(tmp_path / "in.jsonl", 2)
    done = run_cli(
        "batch", "configs/single_model.json", "--input", str(prompts), "--output",
        str(tmp_path / "out.jsonl"), "--simulate",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    progress = [line for line in done.stderr.splitlines() if " progress: " in line]
    assert len(progress) == 1
    assert "2/2 done (100%)" in progress[0]
    assert progress[0][:4].isdigit() and progress[0][19] == "Z"  # a UTC timestamp
    assert done.stderr.index(" progress: ") < done.stderr.index('"answered"')


def test_the_bill_of_a_killed_batch_counts_the_prompts_in_flight(tmp_path: Path) -> None:
    prompts = _prompts(tmp_path / "in.jsonl", 100)
    out = tmp_path / "out.jsonl"
    args = ["batch", "--input", str(prompts), "--output", str(out), "--simulate"]
    args += ["--simulate-latency-ms", "300", "--concurrency", "4"]
    with start_cli(*args, logs=tmp_path / "logs") as child:
        child.wait_until(lambda: out.exists() and bool(out.read_bytes()), timeout=90)
        time.sleep(0.5)  # the next prompts are part-way through the built-in 3-layer one
        summary = summary_of(expect_status(child.kill(signal.SIGTERM), 143))
    written = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    on_lines = sum(line["calls"] for line in written)
    assert summary["stopped"] == "terminated"
    # Calls that prompts still in flight made were paid for: the summary counts them.
    assert summary["calls"] > on_lines
