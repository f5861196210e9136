"""--estimate of a model-based search says the spread of its walked runs (``likely``:
their 10th to 90th percentile, in calls, tokens and dollars). Greedy search's own runs at
16 evaluations spread from -32% to +35% of the estimate's mean (its first comparisons on
20 noisy dev questions fix the cost of everything after, bench/RESULTS.md): one figure
cannot be within 20% of every run, so the estimate says how far they go. Random and grid
search propose the same architectures whatever the scores: no such spread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archon_async.search import Search
from tests.search._spaces import small_space, write


def _estimate(tmp_path: Path, algorithm: str) -> dict[str, Any]:
    data = small_space(finalists=4)
    data["archon_async"] |= {
        "evaluations": 16,
        "dev_questions": 20,
        "held_out_questions": 20,
        "report_questions": 20,
        "parallel": 4,
        "algorithm": algorithm,
    }
    path = write(tmp_path, data)
    return Search(path, simulate=True, seed=2, run_dir=tmp_path / "run").estimate()


def test_greedy_search_estimate_says_the_likely_range_of_its_runs(tmp_path: Path) -> None:
    estimate = _estimate(tmp_path, "greedy_search")
    for figure in ("calls", "tokens", "dollars"):
        values = estimate[figure]
        low, high = values["likely"]
        assert values["low"] <= low < values["expected"] < high <= values["high"], values
    assert estimate["paths"]["count"] == 20
    least, most = estimate["paths"]["calls"]
    assert least <= estimate["calls"]["likely"][0] < estimate["calls"]["likely"][1] <= most


def test_random_search_estimate_has_no_likely_range(tmp_path: Path) -> None:
    estimate = _estimate(tmp_path, "random_search")
    assert all("likely" not in estimate[figure] for figure in ("calls", "tokens", "dollars"))
