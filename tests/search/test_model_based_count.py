"""Archon's ``init_points`` + ``n_iter`` count the evaluations of every model-based search,
``slice_search`` included (issue 13, a new user's run: ``--algorithm slice_search`` ignored
them and planned the whole space), from the file, and ``--evaluations`` overrides them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archon_async.search import Search
from tests.cli_process import expect_status, run_cli
from tests.search._spaces import oracle_run, small_space, write


@pytest.mark.parametrize("algorithm", ["slice_search", "tpe"])
def test_init_points_and_n_iter_count_a_model_based_search(tmp_path: Path, algorithm: str) -> None:
    path = write(tmp_path, small_space(parallel=2) | {"init_points": 3, "n_iter": 4})
    report = oracle_run(path, tmp_path / "run", algorithm=algorithm)
    assert report["evaluations"] == 7 < report["space_size"]


def test_the_command_line_counts_them_for_slice_search(tmp_path: Path) -> None:
    # As Archon's example file sets them: init_points 1, n_iter 1.
    path = write(tmp_path, small_space() | {"init_points": 1, "n_iter": 1})
    args = ["search", str(path), "--simulate", "--oracle", "--algorithm", "slice_search"]
    done = expect_status(run_cli(*args, "--run-dir", str(tmp_path / "a")))
    assert json.loads(done.stdout)["evaluations"] == 2
    more = ["--evaluations", "5", "--run-dir", str(tmp_path / "b")]
    assert json.loads(expect_status(run_cli(*args, *more)).stdout)["evaluations"] == 5


def test_the_planned_count_is_what_the_search_says(tmp_path: Path) -> None:
    path = write(tmp_path, small_space() | {"init_points": 2, "n_iter": 9})
    assert Search(path, simulate=True, oracle=True, algorithm="slice_search").evaluations == 11
