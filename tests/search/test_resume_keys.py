"""Which settings make a run directory hold another search: the space and how an
architecture is scored refuse to resume (naming what changed); how far the search goes
(Archon's iteration counts, our evaluations) resumes it, to the result of a search run
that far at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from archon_async import ConfigError
from tests.search._spaces import leaderboard, oracle_run, sampled_search, small_space, write


def _board(run_dir: Path) -> list[tuple[Any, ...]]:
    return [(e["key"], e["n"], e["score"], e["questions"]) for e in leaderboard(run_dir)]


@pytest.mark.parametrize(
    ("algorithm", "fewer", "more"),
    [
        ("random_search", {"random_search_iterations": 4}, {"random_search_iterations": 9}),
        ("bayesian_optimization", {"init_points": 2, "n_iter": 3}, {"init_points": 2, "n_iter": 8}),
        ("grid_search", {"archon_async": {"evaluations": 3}}, {"archon_async": {"evaluations": 7}}),
    ],
)
def test_more_evaluations_resume_to_the_search_run_that_far_at_once(
    tmp_path: Path, algorithm: str, fewer: dict[str, Any], more: dict[str, Any]
) -> None:
    def space(counts: dict[str, Any]) -> dict[str, Any]:
        data = small_space(parallel=2) | {"search_algorithm_choice": algorithm}
        data["archon_async"] |= counts.pop("archon_async", {})
        return data | counts

    first = oracle_run(write(tmp_path, space(dict(fewer))), tmp_path / "run")
    longer = write(tmp_path, space(dict(more)), name="longer.json")
    resumed = oracle_run(longer, tmp_path / "run")
    whole = oracle_run(longer, tmp_path / "whole")
    assert first["evaluations"] < resumed["evaluations"] == whole["evaluations"]
    assert _board(tmp_path / "run") == _board(tmp_path / "whole")
    assert resumed["best"] == whole["best"]


def test_more_evaluations_of_a_raced_search_on_noisy_scores_end_as_one_run(
    tmp_path: Path,
) -> None:
    # Sampled scores (noisy, no calls) with racing and a final ranking: what the first
    # run re-evaluated and raced is read back, and the longer search decides the same.
    def space(evaluations: int) -> Path:
        data = small_space(
            finalists=3,
            evaluations=evaluations,
            parallel=2,
            dev_questions=20,
            held_out_questions=10,
        )
        return write(tmp_path, data, name=f"space{evaluations}.json")

    def search(path: Path, run_dir: Path) -> dict[str, Any]:
        return anyio.run(sampled_search(path, run_dir, algorithm="random_search", seed=4).run)

    first = search(space(5), tmp_path / "run")
    assert first["final_ranking"]
    resumed = search(space(10), tmp_path / "run")
    whole = search(space(10), tmp_path / "whole")
    assert _board(tmp_path / "run") == _board(tmp_path / "whole")
    assert resumed["final_ranking"] == whole["final_ranking"]
    assert resumed["best"] == whole["best"]


def test_a_different_space_is_refused_naming_what_changed(tmp_path: Path) -> None:
    oracle_run(write(tmp_path, small_space(evaluations=3)), tmp_path / "run")
    other = small_space(evaluations=3) | {"maximum_inference_calls": 11}
    other["archon_async"]["critic_choices"] = [False]
    path = write(tmp_path, other, name="other.json")
    with pytest.raises(ConfigError) as refused:
        oracle_run(path, tmp_path / "run")
    message = str(refused.value)
    assert "archon_async.critic_choices is [false,true] there, [false] here" in message
    assert "maximum_inference_calls is 12 there, 11 here" in message
    assert "random_search_iterations" not in message
    # The seed orders the proposals: another seed is another search, said as such.
    with pytest.raises(ConfigError, match="seed is 0 there, 5 here"):
        oracle_run(write(tmp_path, small_space(evaluations=3)), tmp_path / "run", seed=5)
