"""--estimate on Archon's example search file (Arena-Hard, judged) against a small
simulated run, in calls, tokens and dollars. Before, the estimate priced every call on the
dev questions, ranked the models on the dev questions (the file samples questions of their
own: ``dataset_sample_for_power_ranking``), counted the judge's prompt as the question and
the answers only and its verdict as long as an answer, and let racing's share cut the
baseline's answers: at seed 8 it expected $0.32 (run $0.46, -30.5%) and 140k tokens (run
179k), and its calls' ``low`` (520) was above what the run sent at seeds 4 (497) and 8
(516)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from archon_async.search import Search
from tests.search._spaces import small_example


@pytest.mark.parametrize("seed", [4, 8])
def test_the_estimate_of_the_example_file_brackets_the_run(tmp_path: Path, seed: int) -> None:
    path = small_example(tmp_path)
    run = tmp_path / "run"
    estimate: dict[str, Any] = Search(path, simulate=True, seed=seed, run_dir=run).estimate()
    sent = anyio.run(Search(path, simulate=True, seed=seed, run_dir=run).run)["sent"]
    calls = estimate["calls"]
    assert calls["low"] <= sent["calls"] <= calls["high"], (calls, sent)
    assert abs(estimate["tokens"]["expected"] - sent["tokens"]) <= 0.1 * sent["tokens"]
    assert abs(estimate["dollars"]["expected"] - sent["dollars"]) <= 0.2 * sent["dollars"]
