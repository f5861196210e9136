"""--estimate on Archon's example search file (tpe on Arena-Hard, a judged benchmark)
against a small simulated run. The run ranks the models by the judge on a few questions;
the estimate's pilot took the simulated truth's order instead, so its "top models" were
other models at other prices: at seed 1 it expected $0.90 (low $0.89) where the run spent
$0.38. The pilot now ranks them by the run's own code on its private simulated call path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from archon_async.search import Search
from tests.search._spaces import small_example


def test_the_estimate_ranks_the_models_of_a_judged_search_as_the_run(tmp_path: Path) -> None:
    path = small_example(tmp_path)
    run = tmp_path / "run"
    estimate: dict[str, Any] = Search(path, simulate=True, seed=1, run_dir=run).estimate()
    report = anyio.run(Search(path, simulate=True, seed=1, run_dir=run).run)
    spent = report["sent"]["dollars"]
    dollars = estimate["dollars"]
    assert dollars["low"] <= spent <= dollars["high"], (dollars, spent)
    assert abs(dollars["expected"] - spent) <= 0.2 * spent, (dollars, spent)
