"""The racing's second look: what a model of the score across the space predicts best is
re-evaluated, whatever its own dev score."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from archon_async.search import Candidate, Space, search_file_from_dict
from archon_async.search._outlook import Outlook
from archon_async.search._racing import Race
from archon_async.search._record import RunRecord
from tests.search._spaces import scored, small_space
from tests.search.test_racing import _Bernoulli


def _chance(candidate: Candidate) -> float:
    """A smooth truth: more models, samples and fusion layers, and a critic, all help."""
    c = candidate
    return (
        0.6 + 0.06 * c.model_top_k + 0.04 * len(c.fusers) + 0.02 * c.sample_top_k + 0.03 * c.critic
    )


def _unlucky_best(tmp_path: Path) -> tuple[Space, RunRecord, list[Candidate], Candidate]:
    """92 evaluations whose dev scores are their truth +- 3 points, but the true best's,
    8 points low: 24th by its own dev score."""
    space = Space(*search_file_from_dict(small_space()))
    candidates = list(space.candidates[::3])
    best = max(candidates, key=_chance)
    noise = random.Random(1)
    record = RunRecord(tmp_path / "run", {"test": True})
    for n, candidate in enumerate(candidates, 1):
        score = 100 * _chance(candidate) + noise.gauss(0, 3)
        if candidate == best:
            score = 100 * _chance(candidate) - 8
        record.add(scored(candidate, n, round(score, 2), half_width=5.0))
    return space, record, candidates, best


def test_the_model_predicts_an_unlucky_best_first(tmp_path: Path) -> None:
    space, record, candidates, best = _unlucky_best(tmp_path)
    scores = [record.evaluations[c.key()].score for c in candidates]
    by_score = sorted(range(len(candidates)), key=lambda i: -scores[i])
    assert by_score.index(candidates.index(best)) == 23
    assert Outlook(space).best(candidates, scores, 1) == [candidates.index(best)]
    assert Outlook(space).best(candidates[:11], scores[:11], 1) == []  # too few to fit


def _bernoulli(candidates: list[Candidate]) -> _Bernoulli:
    return _Bernoulli({c.key(): _chance(c) for c in candidates}, dev=200, final=1800)


def test_a_second_look_re_evaluates_what_the_model_predicts_best(tmp_path: Path) -> None:
    space, record, candidates, best = _unlucky_best(tmp_path)
    # Without a second look only the raw leaders are re-evaluated: never the true best.
    evaluator = _bernoulli(candidates)
    race = Race(evaluator, record, leaders=1, leader_questions=2000, draws=1)
    asyncio.run(race.follow_leaders({}, upto=len(candidates)))
    assert evaluator.asked and best.key() not in {key for key, _, _ in evaluator.asked}
    # With one: it is, on as many questions as a leader, and then leads on its own score.
    evaluator = _bernoulli(candidates)
    record = RunRecord(tmp_path / "second", {"test": True})
    for evaluation in RunRecord(tmp_path / "run", {"test": True}).evaluations.values():
        record.add(evaluation)
    race = Race(
        evaluator,
        record,
        leaders=1,
        leader_questions=2000,
        draws=1,
        outlook=Outlook(space),
        second_looks=1,
    )
    told: dict[Candidate, float] = {}
    asyncio.run(race.follow_leaders(told, upto=len(candidates)))
    assert (best.key(), 200, 2000) in evaluator.asked
    assert told[best] > 90 and race.ranked(list(record.evaluations.values()))[0].key == best.key()


def test_predicted_finalists_race_beside_the_raw_best(tmp_path: Path) -> None:
    space, record, candidates, best = _unlucky_best(tmp_path)
    evaluator = _bernoulli(candidates)
    race = Race(
        evaluator,
        record,
        leaders=0,
        leader_questions=None,
        draws=4,
        outlook=Outlook(space),
        predicted_finalists=1,
    )

    async def final() -> list[dict[str, Any]]:
        return [progress async for progress in race.final_stages(3)]

    progress = asyncio.run(final())
    # The three best dev scores and the model's best (24th by dev score) race: 4 on the
    # first stage; the true best wins on the questions none had answered.
    assert {p["key"] for p in progress if p["stage"] == 1} >= {best.key()}
    assert sum(1 for p in progress if p["stage"] == 1) == 4
    assert race.final_ranking[0]["key"] == best.key()
