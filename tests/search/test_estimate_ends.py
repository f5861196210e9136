"""``--estimate``'s range is ordered for every figure (issue 13, a demanding user's
estimate of Archon's example search): its dollars read low 0.3596 above expected 0.3466,
as the low end's finalist, the cheapest in calls, spends more dollars a call than the
expected one, and racing's share bounds calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_async.search import EXAMPLE_SEARCH_CONFIG, Search


@pytest.mark.parametrize("simulate", [True, False])
def test_low_expected_high_are_in_order(tmp_path: Path, simulate: bool) -> None:
    search = Search(EXAMPLE_SEARCH_CONFIG, simulate=simulate, run_dir=tmp_path / "run")
    estimate = search.estimate()
    for figure in ("calls", "tokens", "dollars"):
        ends = estimate[figure]
        assert 0 < ends["low"] <= ends["expected"] <= ends["high"], (figure, ends)
    assert not (tmp_path / "run").exists()
