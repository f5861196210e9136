"""A judge over a batch output holding error lines says which answers it could not grade
(found by the new-user test: the questions whose answer was an error line were left out
silently, the summary's mean and 'graded' over the others, nothing saying a rerun of the
batch would answer them); and it never writes into the answers file."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from archon_async.cli import main


def test_error_lines_are_said_not_graded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = tmp_path / "mt.jsonl"
    batch = ["batch", "single_model", "--benchmark", "mt_bench", "--sample", "3", "--simulate"]
    assert main([*batch, "--output", str(answers)]) == 0
    lines = [orjson.loads(line) for line in answers.read_bytes().splitlines()]
    failed = lines[1]["id"]
    lines[1] = {"id": failed, "error": "ProviderServerError: HTTP 503", "calls": 1}
    answers.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    capsys.readouterr()
    summary_path = tmp_path / "summary.json"
    judge = ["judge", "--benchmark", "mt_bench", "--answers", str(answers), "--simulate"]
    assert main([*judge, "--summary", str(summary_path)]) == 0
    summary = orjson.loads(summary_path.read_bytes())
    assert summary["graded"] == 4  # two questions of two turns: the third is not graded
    assert summary["answers_failed"]["count"] == 1
    assert summary["answers_failed"]["ids"] == [str(failed)]
    assert f"run the batch again on {answers}" in summary["answers_failed"]["fix"]


def test_an_output_that_is_the_answers_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``judge --output`` naming the answers file was refused as 'answers of another
    architecture ... or delete the file to start over': advice to delete the batch's
    answers (found by the new-user test)."""
    answers = tmp_path / "mt.jsonl"
    batch = ["batch", "single_model", "--benchmark", "mt_bench", "--sample", "1", "--simulate"]
    assert main([*batch, "--output", str(answers)]) == 0
    before = answers.read_bytes()
    capsys.readouterr()
    judge = ["judge", "--benchmark", "mt_bench", "--answers", str(answers), "--simulate"]
    assert main([*judge, "--output", str(answers)]) == 2
    err = capsys.readouterr().err
    assert f"--output {answers} is the answers file: give another --output" in err
    assert "delete" not in err and answers.read_bytes() == before
