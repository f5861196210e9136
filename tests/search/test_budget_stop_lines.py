"""What is said when a budget stops a search (issue 13, a demanding user's budget-capped
run): the budget, and the command that goes on; not that racing stopped at its share (the
last line read '[racing] stopped at its share: 0 calls, 0.00 times ... raise it in the
search file', and report.html 'The share stopped racing before its plan': advice that
would not race one more pass); report.json's racing says the budget stopped it too, not
that the share ``limited`` it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_process import run_cli
from tests.search._spaces import small_space, write


def test_a_budget_stop_says_the_budget_not_racings_share(tmp_path: Path) -> None:
    space = small_space(finalists=4, dev_questions=8, held_out_questions=4, report_questions=4) | {
        "search_algorithm_choice": "random_search",
        "random_search_iterations": 6,
    }
    path = write(tmp_path, space)
    args = ["search", str(path), "--simulate", "--run-dir", str(tmp_path / "run")]
    done = run_cli(*args, "--budget-calls", "300")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert "[stopped] budget: calls (300 of 300 sent)" in lines
    assert any(
        "rerun with a larger budget" in line and "--budget-calls 600" in line for line in lines
    )
    assert not any(line.startswith("[racing] stopped at its share") for line in lines), lines
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert "budget: calls (300 of 300 sent)" in page
    assert "The share stopped racing" not in page
    report = json.loads((tmp_path / "run" / "report.json").read_text(encoding="utf-8"))
    assert report["stopped_by"] == "budget: calls (300 of 300 sent)"
    racing = report["racing"]
    assert racing["limited"] is False and racing["stopped_by"] == report["stopped_by"], racing
