"""An engine search's race on independent passes (issue 13): pass ``p`` of a question is
`Engine.generate`'s draw ``p``, samples of its own in the response cache, so a simulated
search's finalists answer the selection questions anew on every pass; ``--estimate``
counts those passes and the held-out report run; a search killed while racing resumes to
the same result."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest

from archon_async.callpath._samples import DRAW_STRIDE
from archon_async.search import Candidate, Search
from archon_async.search._evaluate import EngineEvaluator
from tests.search._spaces import racing_search

DEV, FINAL, REPORT, DRAWS = 10, 10, 10, 4


def _search(tmp_path: Path, run: str) -> Search:
    return racing_search(
        tmp_path,
        run,
        questions=(DEV, FINAL, REPORT),
        finalists=3,
        # The passes, unbounded, halved from 2 passes.
        racing={"leaders": 2, "draws": DRAWS, "max_share": None, "first_passes": 1},
        seed=3,
    )


def _rows_by_draw(cache: Path) -> dict[int, int]:
    """Cache entries (samples sent and kept) per draw."""
    with sqlite3.connect(cache) as db:
        rows = db.execute("SELECT sample FROM responses").fetchall()
    counts: dict[int, int] = {}
    for (sample,) in rows:
        counts[sample // DRAW_STRIDE] = counts.get(sample // DRAW_STRIDE, 0) + 1
    return counts


def test_a_simulated_search_races_on_passes_it_sends_and_estimates(tmp_path: Path) -> None:
    search = _search(tmp_path, "run")
    estimate = search.estimate()
    report = anyio.run(search.run)
    single = DEV + FINAL
    # The race reached its last pass: the two best finalists answered every position.
    stages = sorted((e["stage"], e["questions"]) for e in report["final_ranking"])
    assert stages == [(1, 2 * single), (2, DRAWS * single), (2, DRAWS * single)]
    # Every pass after the first sent requests of its own, numbered in its draw.
    by_draw = _rows_by_draw(tmp_path / "run" / "cache.sqlite")
    assert sorted(by_draw) == list(range(DRAWS)) and all(by_draw.values())
    # And answered anew: the chosen finalist's points on the final-ranking questions in
    # pass 1 are not pass 0's (racing.json: its points from the first position after the
    # dev questions on: pass 0's final-ranking questions, then whole passes).
    racing = json.loads((tmp_path / "run" / "racing.json").read_text())
    points = racing[report["final_ranking"][0]["key"]]
    assert len(points) == DRAWS * single - DEV
    pass0, pass1 = points[:FINAL], points[single : single + FINAL]
    assert pass0 != pass1
    # --estimate counted the race's passes and the report run: the search's spend falls in
    # its range and within a fifth of the expected figure.
    assert report["held_out"]["questions"] == REPORT
    assert estimate["report_questions"] == REPORT
    sent = report["sent"]
    for name in ("calls", "tokens", "dollars"):
        low, expected, high = (estimate[name][end] for end in ("low", "expected", "high"))
        assert low <= sent[name] <= high, (name, low, sent[name], high)
        assert abs(expected / sent[name] - 1) <= 0.2, (name, expected, sent[name])


def test_a_search_killed_while_racing_on_passes_resumes_to_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = anyio.run(_search(tmp_path, "whole").run)
    original = EngineEvaluator.score_positions
    asked: list[tuple[int, int]] = []

    async def cut(self: EngineEvaluator, candidate: Candidate, start: int, stop: int) -> Any:
        asked.append((start, stop))
        if start >= 2 * (DEV + FINAL):  # killed in the race's third pass
            raise KeyboardInterrupt
        return await original(self, candidate, start, stop)

    with monkeypatch.context() as patch:
        patch.setattr(EngineEvaluator, "score_positions", cut)
        with pytest.raises(KeyboardInterrupt):
            anyio.run(_search(tmp_path, "cut").run)
    assert asked and asked[-1][0] >= 2 * (DEV + FINAL)
    resumed = anyio.run(_search(tmp_path, "cut").run)
    assert resumed["best"]["key"] == whole["best"]["key"]
    assert resumed["final_ranking"] == whole["final_ranking"]
    assert resumed["held_out"] == whole["held_out"]
    lines = [(tmp_path / run / "leaderboard.jsonl").read_text() for run in ("whole", "cut")]
    assert lines[0] == lines[1]


def test_the_estimate_plans_the_first_stage_on_its_passes(tmp_path: Path) -> None:
    # By default the first stage takes every finalist to 4 passes before halving; with
    # 4 passes in all, all three finalists answer every pass, where halving from 2 passes
    # leaves the third after its second: --estimate plans the race the search runs.
    def expected(first_passes: int) -> float:
        search = racing_search(
            tmp_path,
            f"r{first_passes}",
            questions=(DEV, FINAL, 0),
            finalists=3,
            racing={
                "leaders": 2,
                "draws": DRAWS,
                "first_passes": first_passes,
                "max_share": None,  # unbounded: the share would cap both alike
            },
            seed=3,
            name=f"{first_passes}.json",
        )
        return float(search.estimate()["calls"]["expected"])

    assert expected(DRAWS) > expected(1)
    assert expected(DRAWS) == expected(8)  # at most every pass there is
