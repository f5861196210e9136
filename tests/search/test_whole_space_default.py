"""A search with no count of evaluations (grid search; greedy search without Archon's
search_iterations) plans the whole space (issue 13, a new user's first run): where it sends
calls and the space holds more than `WHOLE_SPACE_LIMIT` architectures, it is refused
unless a budget bounds it, before the run directory is made, with the naive spend and what
to set; a small space, a count, a budget or the oracle (no calls) runs as asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from archon_async import ConfigError
from archon_async.search import Search, Space, search_file_from_dict
from archon_async.search._inputs import WHOLE_SPACE_LIMIT
from tests.cli_process import run_cli
from tests.search._spaces import small_space, write


def _space(**extension: Any) -> dict[str, Any]:
    """The small space (more than the limit) on 3 dev questions, nothing after them."""
    return small_space(
        finalists=0,
        dev_questions=3,
        held_out_questions=0,
        report_questions=0,
        racing={"enabled": False},
        **extension,
    )


def test_the_small_space_is_over_the_limit() -> None:
    assert len(Space(*search_file_from_dict(_space()))) > WHOLE_SPACE_LIMIT


@pytest.mark.parametrize("algorithm", ["grid_search", "greedy_search"])
def test_a_whole_space_default_is_refused_with_its_size_and_spend(
    tmp_path: Path, algorithm: str
) -> None:
    path = write(tmp_path, _space())
    search = Search(path, simulate=True, algorithm=algorithm, run_dir=tmp_path / "run")
    size = len(Space(search.settings, search.models))
    with pytest.raises(ConfigError) as raised:
        anyio.run(search.run)
    message = str(raised.value)
    assert f"{algorithm} with no count of evaluations evaluates the whole space" in message
    assert f"{size:,} architectures (more than {WHOLE_SPACE_LIMIT} by default)" in message
    assert "runs on the 3 dev questions alone send up to " in message
    assert "calls," in message and "tokens," in message and "(no cache hit;" in message
    assert "Search(evaluations=N)" in message and "budget=" in message
    assert ("search_iterations" in message) == (algorithm == "greedy_search")
    assert not (tmp_path / "run").exists()


def test_the_command_line_says_its_options(tmp_path: Path) -> None:
    path = write(tmp_path, _space())
    done = run_cli("search", str(path), "--simulate", "--algorithm", "grid_search")
    assert done.returncode == 1, done.stderr
    assert "--evaluations N" in done.stderr and "--budget-architectures" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "space.search").exists()


@pytest.mark.parametrize(
    "options",
    [
        {"evaluations": 2},
        {"budget": {"architectures": 2}},
        {"budget": {"calls": 400}},
    ],
)
def test_a_count_or_a_budget_bounds_it(tmp_path: Path, options: dict[str, Any]) -> None:
    path = write(tmp_path, _space())
    search = Search(
        path, simulate=True, algorithm="grid_search", run_dir=tmp_path / "run", **options
    )
    report = anyio.run(search.run)
    assert 1 <= report["evaluations"] < report["space_size"]


def test_the_oracle_sends_no_call_and_evaluates_the_whole_space(tmp_path: Path) -> None:
    path = write(tmp_path, _space())
    search = Search(
        path, simulate=True, oracle=True, algorithm="grid_search", run_dir=tmp_path / "r"
    )
    report = anyio.run(search.run)
    assert report["evaluations"] == report["space_size"] > WHOLE_SPACE_LIMIT
