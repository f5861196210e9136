"""A search a budget stopped prints the command that goes on, as a stopped batch does: the
same command with that budget raised. It printed only ``[stopped] budget: calls (700 of 700
sent)``; the README and the exit status said "rerun with a larger budget" but not how much,
nor which option."""

from __future__ import annotations

import shlex
from pathlib import Path

import orjson
import pytest

from archon_async.cli import main
from tests.search._spaces import small_space, write


def _resume_command(said: str) -> list[str]:
    line = next(line for line in said.splitlines() if "rerun with a larger budget" in line)
    command = line.split("rerun with a larger budget: ", 1)[1].rstrip("]")
    words = shlex.split(command)
    return words[words.index("search") :]


def test_a_budget_stop_prints_a_resume_command_that_finishes_the_search(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, small_space(evaluations=8))
    common = ["search", str(path), "--simulate", "--oracle", "--seed", "3", "--quiet"]
    assert main([*common, "--run-dir", str(tmp_path / "whole")]) == 0
    whole = orjson.loads(capsys.readouterr().out)

    cut = [*common, "--run-dir", str(tmp_path / "cut"), "--budget-architectures", "3"]
    assert main(cut) == 1
    said = capsys.readouterr().err
    resume = _resume_command(said)
    assert resume[resume.index("--budget-architectures") + 1] == "8", said
    assert resume[: len(cut) - 2] == cut[:-2]

    assert main(resume) == 0
    resumed = orjson.loads(capsys.readouterr().out)
    assert resumed["stopped_by"] is None
    assert resumed["best"] == whole["best"]
    assert resumed["evaluations"] == whole["evaluations"] == 8


def test_a_calls_budget_stop_names_the_option_and_raises_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, small_space(evaluations=6, dev_questions=6, held_out_questions=0))
    args = ["search", str(path), "--simulate", "--run-dir", str(tmp_path / "run"), "--quiet"]
    assert main([*args, "--budget-calls", "60"]) == 1
    said = capsys.readouterr().err
    resume = _resume_command(said)
    assert resume[resume.index("--budget-calls") + 1] == "120", said
    assert resume.count("--budget-calls") == 1
    assert f"the run directory {tmp_path / 'run'} keeps what was done" in said
