"""The final ranking: its pooled estimate passes over a finalist whose final score is
lucky, and the held-out questions never decide anything."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from archon_async.search import Candidate, Effects, Search, Space, Truth, search_file_from_dict
from archon_async.search._evaluate import EngineEvaluator
from archon_async.search._final import choose
from archon_async.search._interval import summary
from archon_async.search._pooled import pooled_scores
from archon_async.search._record import Evaluation
from archon_async.search._report_html import report_html
from archon_async.search._sampled import SampledEvaluator
from tests.search._spaces import scored, small_space, write


def _evaluations(space: Space, table: np.ndarray, rng: np.random.Generator) -> list[Evaluation]:
    """150 architectures of the space, each scored on 200 dev questions (binomial noise
    around its exact score)."""
    picks = rng.choice(len(space), 150, replace=False)
    scores = (100.0 * rng.binomial(200, table[i] / 100.0) / 200 for i in picks)
    candidates = (space.candidates[int(i)] for i in picks)
    return [
        scored(candidate, n, score, half_width=6.0)
        for n, (candidate, score) in enumerate(zip(candidates, scores, strict=True), 1)
    ]


def test_the_pooled_estimate_passes_over_a_lucky_finalist_the_raw_best_would_choose() -> None:
    space = Space(*search_file_from_dict(small_space()))
    table = Truth(space, Effects(seed=1), judged=False).table()
    rng = np.random.default_rng(5)
    evaluations = _evaluations(space, table, rng)
    exact = {e.key: float(table[space.index(Candidate.from_params(e.params))]) for e in evaluations}
    finalists = sorted(evaluations, key=lambda e: -e.score)[:8]
    best = max(exact[e.key] for e in finalists)
    # A finalist well below the best, lucky on the final questions: it answers as if it
    # were 3 points better than the best finalist.
    lucky = min(finalists, key=lambda e: exact[e.key])
    assert exact[lucky.key] < best - 3
    ranking = []
    for e in finalists:
        chance = (best + 3 if e is lucky else exact[e.key]) / 100.0
        points = (100.0 * (rng.random(400) < chance)).tolist()
        ranking.append({"key": e.key, "n": e.n, "score": float(np.mean(points)), "points": points})
    ranking.sort(key=lambda entry: -entry["score"])
    chosen = choose(space, evaluations, ranking, [entry.pop("points") for entry in ranking])
    # The order (what chose) is kept: here the lucky one leads ...
    assert chosen[0]["key"] == lucky.key
    # ... while the pooled estimate puts a truly better finalist first.
    pooled = max(chosen, key=lambda e: e["estimate"]["score"])
    assert pooled["key"] != lucky.key
    assert exact[pooled["key"]] > best - 1.0
    assert pooled["estimate"]["chance_best"] == max(e["estimate"]["chance_best"] for e in chosen)
    assert all("points" not in entry for entry in chosen)


def test_pooled_estimates_shrink_toward_neighbours_and_pair_the_final_scores() -> None:
    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(100), rng.random((100, 3))])
    truth = 80 + x[:, 1:] @ np.array([4.0, -2.0, 1.0])
    dev = truth + rng.normal(0, 3.0, 100)
    pooled = pooled_scores(x, dev, [200] * 100)
    # Pooled over the 100, each estimate is nearer its truth than its own dev score.
    assert np.abs(pooled.mean - truth).mean() < 0.5 * np.abs(dev - truth).mean()
    # Two finalists answering alike on most questions: their difference is measured far
    # more precisely than either score, and the estimate keeps it.
    common = 100.0 * (rng.random(1000) < 0.8)
    other = common.copy()
    other[:30] = 100.0  # 30 questions the second gets right whatever the first did
    paired = pooled_scores(x, dev, [200] * 100, [0, 1], np.stack([common, other]))
    gap = paired.final_mean[1] - paired.final_mean[0]
    assert gap > 0 and paired.chance_best[1] > 0.5


def test_pooled_scores_refuse_mismatched_inputs() -> None:
    with pytest.raises(ValueError, match="one feature row"):
        pooled_scores(np.ones((3, 2)), [1.0, 2.0], [10, 10])
    with pytest.raises(ValueError, match="one row of final-ranking points"):
        pooled_scores(np.ones((3, 2)), [1.0, 2.0, 3.0], [10] * 3, [0, 5], np.ones((2, 4)))


@pytest.mark.parametrize("sampled", [True, False], ids=["sampled", "engine"])
def test_held_out_scores_are_never_read_by_the_choice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sampled: bool
) -> None:
    """The same search with the held-out scores forced to 0 and to 100: the same final
    ranking, estimates and choice; the held-out scoring runs once, after the choice."""
    space = small_space(
        evaluations=6,
        parallel=2,
        dev_questions=8,
        held_out_questions=8,
        report_questions=8,
        racing={"draws": 2},  # a second pass, each answered anew: enough to show it
    )
    path = write(tmp_path, space | {"number_of_archon_configs_for_final_ranking": 3})
    evaluator = SampledEvaluator if sampled else EngineEvaluator
    reports = []
    for forced in (0.0, 100.0):
        calls: list[str] = []
        run = tmp_path / f"run-{forced:g}"

        async def score_report(
            self: Any,
            candidate: Any,
            forced: float = forced,
            run: Path = run,
            calls: list[str] = calls,
        ) -> Any:
            # By then the choice is made and kept.
            kept = json.loads((run / "final_ranking.json").read_text())
            calls.append(candidate.key())
            assert len(kept) == 3
            return {"score": forced, "ci": [forced, forced], "questions": 8}

        monkeypatch.setattr(evaluator, "score_report", score_report)
        search = Search(path, simulate=True, oracle=sampled, sampled=sampled, seed=4, run_dir=run)
        report = asyncio.run(search.run())
        assert calls == [report["best"]["key"]]
        assert report["held_out"]["score"] == forced
        reports.append(report)
    first, second = reports
    assert first["final_ranking"] == second["final_ranking"]
    assert first["best"]["key"] == second["best"]["key"] == first["final_ranking"][0]["key"]


def test_a_pooled_interval_stays_within_the_score_range_in_report_json_and_html() -> None:
    """Near 100 the pooled model's Gaussian interval ran past it (96.76 [86.87, 106.65] on
    a real search's finalists): finalists at 90-100 on 20 dev questions, then right on
    18-20 of 20 final questions, are clipped to 0..100 in the entries report.json holds
    and in the report's page."""
    space = Space(*search_file_from_dict(small_space()))
    rng = np.random.default_rng(0)
    dev = rng.choice([85.0, 90.0, 95.0, 100.0], 40)
    evaluations = [
        replace(scored(candidate, n, float(score), half_width=5.0), questions=20)
        for n, (candidate, score) in enumerate(zip(space.candidates[:40], dev, strict=True), 1)
    ]
    finalists = sorted(evaluations, key=lambda e: -e.score)[:3]
    points = [[100.0] * 20, [100.0] * 19 + [0.0], [100.0] * 18 + [0.0] * 2]
    ranking = [
        {
            "key": e.key,
            "n": e.n,
            "stage": 1,
            "dev_score": e.score,
            "final": summary(p),
            "score": summary(p)["score"],
        }
        for e, p in zip(finalists, points, strict=True)
    ]
    chosen = choose(space, evaluations, ranking, points)
    ends = [end for entry in chosen for end in entry["estimate"]["ci"]]
    assert max(ends) == 100.0  # reached: the unclipped upper ends were 100.4 to 102.4
    assert all(0.0 <= end <= 100.0 for end in ends)
    assert all(e["estimate"]["ci"][0] < e["estimate"]["score"] for e in chosen)
    report = {"benchmark": "gsm8k", "best": chosen[0], "final_ranking": chosen}
    page = report_html(report, evaluations, [], "calls_per_query")
    table = page[page.index('<table id="final-ranking"') :]
    pooled = re.findall(r"(\d+\.\d\d) \((\d+\.\d\d) to (\d+\.\d\d)\); best", table)
    pooled += re.findall(r"pooled estimate (\d+\.\d\d), (\d+\.\d\d) to (\d+\.\d\d)", page)
    assert len(pooled) == 4  # each finalist's row and the chosen one's paragraph
    assert all(0.0 <= float(end) <= 100.0 for shown in pooled for end in shown), pooled


def test_the_report_does_not_call_predicted_finalists_the_best_by_dev_score() -> None:
    # Found by the new-user test (issue 13): a slice search's report.html read "Chosen by
    # Archon's final ranking of the 10 best by dev score" where 4 were the best by score and
    # 6 the model's predicted finalists (one at dev 65 of a leaderboard topped at 90).
    space = Space(*search_file_from_dict(small_space()))
    scores = [90.0, 80.0, 65.0]
    evaluations = [
        scored(candidate, n, score, half_width=5.0)
        for n, (candidate, score) in enumerate(zip(space.candidates, scores, strict=False), 1)
    ]
    final = {"score": 85.0, "ci": [80.0, 90.0], "questions": 40}
    ranking = [  # the best by score, and the predicted one at 65 (80 left out)
        {"key": e.key, "n": e.n, "stage": 1, "dev_score": e.score, "final": final, "score": 85.0}
        for e in (evaluations[0], evaluations[2])
    ]
    report = {"benchmark": "gsm8k", "best": ranking[0], "final_ranking": ranking}
    page = report_html(report, evaluations, [], "calls_per_query")
    chosen = page[page.index('<p id="chosen">') :].split("</p>")[0]
    assert "final ranking of 2 finalists" in chosen
    assert "2 best by dev score" not in chosen
