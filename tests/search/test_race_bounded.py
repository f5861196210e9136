"""The final ranking's race under a share (issue 13, ``racing.max_share``): every finalist
of a stage on the same positions, a finalist clearly behind leaving at once, and the share
it leaves going to those still close."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from archon_async.search import Candidate, Space, search_file_from_dict
from archon_async.search._race_bounded import clearly_behind
from archon_async.search._race_share import RaceShare
from archon_async.search._racing import Race
from archon_async.search._record import RunRecord
from tests.search._spaces import scored, small_space
from tests.search.test_racing import _Bernoulli

DEV, FINAL = 200, 100
SINGLE = DEV + FINAL


def _race(
    tmp_path: Path, chances: list[float], max_share: float, *, halving: bool = False
) -> tuple[Race, list[Candidate]]:
    """Four finalists of 200 dev questions (dev scores best first), answering right with
    ``chances``; racing may spend ``max_share`` of their evaluations' calls;
    ``halving``: the race as it was (successive halving cut where the share ends)."""
    space = Space(*search_file_from_dict(small_space()))
    candidates = list(space.candidates[:4])
    record = RunRecord(tmp_path / "run", {"test": True})
    dev_scores = [90.0, 89.0, 88.0, 87.0]
    for n, (candidate, score) in enumerate(zip(candidates, dev_scores, strict=True), 1):
        record.add(scored(candidate, n, score, half_width=5.0))
    evaluator = _Bernoulli(
        {c.key(): chance for c, chance in zip(candidates, chances, strict=True)}, DEV, FINAL
    )
    race = Race(
        evaluator,
        record,
        leaders=0,
        leader_questions=None,
        draws=8,
        first_passes=4,
        share=RaceShare(space, max_share),
        finalists=4,
    )
    if halving:
        race._steps = race._halving  # type: ignore[method-assign]
    return race, candidates


def _final(race: Race) -> list[dict[str, Any]]:
    async def final() -> list[dict[str, Any]]:
        return [progress async for progress in race.final_stages(4)]

    return asyncio.run(final())


def test_a_finalist_clearly_behind_leaves_and_the_share_goes_to_the_close_ones(
    tmp_path: Path,
) -> None:
    # The third answers right 30% of the time, the others about 80%: on the first stage's
    # 100 fresh positions it is many standard errors behind and leaves at once, and the
    # share it would have spent takes the three close ones further, every one of them on
    # the same positions at every stage.
    chances = [0.80, 0.82, 0.30, 0.79]
    race, candidates = _race(tmp_path / "new", chances, 2.0)
    _final(race)
    ranking = {e["key"]: e for e in race.final_ranking}
    behind = ranking[candidates[2].key()]
    assert (behind["stage"], behind["questions"]) == (1, SINGLE)
    close = [ranking[c.key()] for i, c in enumerate(candidates) if i != 2]
    assert len({(e["stage"], e["questions"]) for e in close}) == 1  # the same positions
    assert race.share is not None and race.share.limited
    # The race as it was: all four cut at one position inside the first stage, short of
    # where the three close ones get now, on the same share.
    old, _ = _race(tmp_path / "old", chances, 2.0, halving=True)
    _final(old)
    reached = {e["questions"] for e in old.final_ranking}
    assert len(reached) == 1 and reached.pop() < close[0]["questions"]
    # The pick is the best of the last stage on the window (every survivor on it).
    best = max(close, key=lambda e: e["objective"])
    assert race.final_ranking[0]["key"] == best["key"]
    assert race.final_ranking[-1]["key"] == behind["key"]


def test_the_first_stage_cut_by_the_share_leaves_every_finalist_on_the_same_positions(
    tmp_path: Path,
) -> None:
    # Four close finalists and a share that ends inside the first stage (4 passes
    # planned): none leaves early, each answers the same positions (the last pass only
    # partly, for every one of them alike), and none is compared on a position another
    # did not answer.
    race, _ = _race(tmp_path, [0.80, 0.81, 0.79, 0.80], 1.0)
    progress = _final(race)
    questions = {e["questions"] for e in race.final_ranking}
    assert len(questions) == 1
    reached = questions.pop()
    assert SINGLE < reached < 4 * SINGLE and reached % SINGLE  # cut inside a pass
    assert {len(race.fresh(race.record.evaluations[e["key"]])) for e in race.final_ranking} == {
        reached - DEV
    }
    # Stage by stage, every finalist reached the same positions before the next began.
    by_stage: dict[int, set[int]] = {}
    for p in progress:
        by_stage.setdefault(p["stage"], set()).add(p["questions"])
    assert all(len(levels) == 1 for levels in by_stage.values())
    assert by_stage[1] == {SINGLE}


def test_clearly_behind_needs_the_paired_difference_beyond_its_noise(tmp_path: Path) -> None:
    race, candidates = _race(tmp_path, [0.8, 0.8, 0.8, 0.8], 1.0)
    first, second = (race.record.evaluations[c.key()] for c in candidates[:2])
    race.stored = {first.key: [100.0] * 60 + [0.0] * 40, second.key: [100.0] * 40 + [0.0] * 60}
    race.counted = {first.key: 100, second.key: 100}
    race.base = DEV
    # 20 points apart on 100 positions, the difference's standard error 4: 5 of them.
    assert clearly_behind(race, first, second)
    assert not clearly_behind(race, second, first)
    race.stored[second.key] = [100.0] * 55 + [0.0] * 45  # 5 apart: 2.3 standard errors
    assert not clearly_behind(race, first, second)


def test_a_finalist_behind_whose_requests_the_others_make_races_on_free(tmp_path: Path) -> None:
    # The first finalist is its generator alone, a request every other finalist makes too
    # (they add a verifier, unit tests, a fuser on its answers): clearly behind, it stays,
    # as racing it costs nothing more; the third, as far behind, has requests of its own
    # and leaves.
    race, candidates = _race(tmp_path, [0.30, 0.80, 0.30, 0.81], 2.0)
    assert race.share is not None
    alone, _, own, _ = (race.record.evaluations[c.key()] for c in candidates)
    others = frozenset().union(*(race.share.requests(e) for e in race.record.evaluations.values()
                                 if e is not alone))  # fmt: skip
    assert race.share.requests(alone) < others
    _final(race)
    stages = {e["key"]: e["stage"] for e in race.final_ranking}
    assert stages[alone.key] == max(stages.values()) > stages[own.key] == 1
