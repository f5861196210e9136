"""A search's hard cap on calls, its provider settings, and what the simulator saw."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from archon_async import ConfigError
from archon_async._exceptions import BudgetExceededError
from archon_async._types import CallRecord
from archon_async.callpath import Budget
from archon_async.search import Search
from tests.search._spaces import leaderboard, sampled_search, simulated_search, small_space, write


def _board(run_dir: Path) -> list[tuple[str, float, int]]:
    return sorted((e["key"], e["score"], e["questions"]) for e in leaderboard(run_dir))


def test_a_per_call_budget_counts_calls_in_flight_and_refuses_beyond() -> None:
    budget = Budget(max_calls=3, per_call=True)
    budget.reserve(2)
    with pytest.raises(BudgetExceededError, match="3 calls"):
        budget.reserve(2)  # 2 in flight + 2 would be 4
    assert budget.refused_at is not None
    budget.charge(
        CallRecord(model="m", provider="p", latency_s=0, input_tokens=1, output_tokens=1, retries=0)
    )
    budget.release(1)
    budget.reserve(1)  # 1 sent + 1 in flight + 1 = 3
    assert budget.exceeded() is not None  # no new prompt starts either


def test_a_hard_cap_on_calls_holds_and_a_resume_loses_nothing(tmp_path: Path) -> None:
    # One pass (no final ranking): the cap is checked on the evaluations' calls.
    data = small_space(evaluations=12, dev_questions=8, held_out_questions=0, racing={"draws": 1})
    path = write(tmp_path, data)
    cut = anyio.run(simulated_search(path, tmp_path / "cut", budget={"calls": 150}).run)
    assert cut["sent"]["calls"] <= 150  # calls in flight were held against the cap
    assert cut["stopped_by"] == "budget: calls (150 of 150 sent)"
    recorded = _board(tmp_path / "cut")
    # Only whole evaluations are recorded: one cut short by the cap is done again later.
    assert 0 < len(recorded) < 12 and all(questions == 8 for _, _, questions in recorded)
    again = anyio.run(simulated_search(path, tmp_path / "cut", budget={"calls": 150}).run)
    assert again["sent"]["calls"] == 0  # the cap holds over every run of the search
    resumed = anyio.run(simulated_search(path, tmp_path / "cut").run)
    whole = anyio.run(simulated_search(path, tmp_path / "whole").run)
    assert _board(tmp_path / "cut") == _board(tmp_path / "whole")
    assert resumed["best"]["key"] == whole["best"]["key"]
    # Every call the cut run sent was kept in the cache and served to its resume.
    assert cut["sent"]["calls"] + resumed["sent"]["calls"] == whole["sent"]["calls"]


def test_the_simulator_saw_exactly_the_calls_the_report_says_were_sent(tmp_path: Path) -> None:
    data = small_space(
        evaluations=6,
        dev_questions=5,
        held_out_questions=0,
        providers={"Together_API": {"rpm": 60_000, "max_concurrency": 64}},
    )
    path = write(tmp_path, data)
    search = simulated_search(path, tmp_path / "run", simulator={"request_log": 10_000})
    report = anyio.run(search.run)
    log = search.simulator.request_log()
    assert sum(r.n for r in log if r.status == 200) == report["sent"]["calls"] > 0


def test_bad_provider_settings_are_refused_before_anything_runs(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(providers={"Together_API": {"rpm": -5}}))
    with pytest.raises(ConfigError, match="providers"):
        simulated_search(path, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_the_wall_time_budget_stops_the_final_ranking_and_the_report_counts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The final ranking scores the best architectures on every final question: it can
    # take longer than the search. Each scoring here "takes" 100 s of a fake clock (one
    # pass, no leaders re-scored during the search: each finalist is scored once).
    from types import SimpleNamespace

    from archon_async.search import _spending
    from archon_async.search._sampled import SampledEvaluator

    now = [1000.0]
    monkeypatch.setattr(_spending, "time", SimpleNamespace(monotonic=lambda: now[0]))
    scored = []
    score_positions = SampledEvaluator.score_positions

    async def slow(self: SampledEvaluator, candidate: object, start: int, stop: int) -> list[float]:
        scored.append(candidate)
        now[0] += 100.0
        return await score_positions(self, candidate, start, stop)  # type: ignore[arg-type]

    monkeypatch.setattr(SampledEvaluator, "score_positions", slow)
    space = small_space(
        finalists=4,
        evaluations=8,
        dev_questions=20,
        held_out_questions=40,
        racing={"leaders": 0, "draws": 1},
    )
    path = write(tmp_path, space)
    run_dir = tmp_path / "run"

    def search(seconds: float) -> Search:
        budget = {"wall_time_s": seconds}
        return sampled_search(path, run_dir, algorithm="random_search", budget=budget)

    report = anyio.run(search(150).run)
    assert len(scored) == 2  # the second started before 150 s, none after
    assert report["stopped_by"] == "budget: wall_time_s"
    assert report["wall_time_s"] == 200.0  # the final ranking's time included
    assert "final_ranking" not in report and report["best"] is not None
    assert (run_dir / "report.html").exists()
    # Rerun with more time: the two scored are not scored again.
    report = anyio.run(search(1000).run)
    assert report["stopped_by"] is None and len(report["final_ranking"]) == 4
    assert len(scored) == 4 and report["held_out"] is not None
