"""Racing: the architectures that could be the best get more questions; the held-out
questions never take part; a killed search resumes to the same result."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from archon_async.search import Candidate, Search, Space, search_file_from_dict
from archon_async.search._racing import Race
from archon_async.search._record import RunRecord
from archon_async.search._sampled import SampledEvaluator
from tests.search._spaces import sampled_search, scored, small_space, write


class _Bernoulli:
    """An evaluator whose architectures answer each selection position right with a fixed
    chance (seeded by the architecture and the position)."""

    def __init__(self, chances: dict[str, float], dev: int, final: int) -> None:
        self.chances = chances
        self.dev: Sequence[Any] = list(range(dev))
        self.final = final
        self.asked: list[tuple[str, int, int]] = []

    def selection_size(self, draws: int) -> int:
        return (len(self.dev) + self.final) * draws

    async def score_positions(self, candidate: Candidate, start: int, stop: int) -> list[float]:
        key = candidate.key()
        self.asked.append((key, start, stop))
        return [100.0 * (_unit(key, i) < self.chances[key]) for i in range(start, stop)]

    async def score_questions(
        self, candidate: Candidate, pairs: Sequence[tuple[int, int]]
    ) -> list[float]:
        key, single = candidate.key(), len(self.dev) + self.final
        self.asked.append((key, -1, len(pairs)))
        return [100.0 * (_unit(key, d * single + q) < self.chances[key]) for q, d in pairs]


def _unit(key: str, i: int) -> float:
    digest = hashlib.blake2b(f"{key}:{i}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _record(tmp_path: Path, dev_scores: list[float]) -> tuple[RunRecord, list[Candidate]]:
    space = Space(*search_file_from_dict(small_space()))
    record = RunRecord(tmp_path / "run", {"test": True})
    candidates = list(space.candidates[: len(dev_scores)])
    for n, (candidate, score) in enumerate(zip(candidates, dev_scores, strict=True), 1):
        record.add(scored(candidate, n, score, half_width=5.0))
    return record, candidates


def test_racing_passes_over_a_lucky_dev_score_the_raw_best_would_choose(tmp_path: Path) -> None:
    # The lucky one scored 92 on its 200 dev questions but answers right 80% of the time;
    # the good one scored 88 and answers right 88% of the time; the rest 80%.
    dev = [92.0, 88.0, 85.0, 84.0, 83.0, 82.0]
    record, candidates = _record(tmp_path, dev)
    lucky, good = candidates[0].key(), candidates[1].key()
    chances = {c.key(): 0.80 for c in candidates} | {good: 0.88}
    evaluator = _Bernoulli(chances, dev=200, final=800)
    raw_best = max(record.evaluations.values(), key=lambda e: e.score)
    assert raw_best.key == lucky
    # During the search: the leader is topped up, falls back, the next one is topped up.
    race = Race(evaluator, record, leaders=1, leader_questions=1000, draws=4)
    scores: dict[Candidate, float] = {}
    assert asyncio.run(race.follow_leaders(scores, upto=len(dev))) == 2
    assert [key for key, _, _ in evaluator.asked] == [lucky, good]
    assert scores[candidates[1]] > 85 > scores[candidates[0]]
    assert race.ranked(list(record.evaluations.values()))[0].key == good
    # The final ranking: four finalists on the 1,000 selection questions, then two on
    # two passes, two on four, compared on what none had answered when chosen (after
    # their 200 dev questions): the good one is chosen.
    race = Race(evaluator, RunRecord(tmp_path / "run", {"test": True}), leaders=0,
                leader_questions=1, draws=4)  # fmt: skip
    assert race.stages(4, base=200) == [(4, 1000), (2, 2000), (2, 4000)]
    # Finalists that answered a whole pass already start on the second.
    assert race.stages(4, base=1000) == [(4, 2000), (2, 4000)]

    async def final() -> list[dict[str, Any]]:
        return [progress async for progress in race.final_stages(4)]

    progress = asyncio.run(final())
    assert [(p["done"], p["of"], p["stage"]) for p in progress] == [
        (1, 8, 1), (2, 8, 1), (3, 8, 1), (4, 8, 1), (5, 8, 2), (6, 8, 2), (7, 8, 3), (8, 8, 3)
    ]  # fmt: skip
    chosen = race.final_ranking[0]
    assert chosen["key"] == good and chosen["stage"] == 3 and chosen["questions"] == 4000
    assert chosen["final"]["questions"] == 3800  # its dev questions chose it: not counted
    assert [e["stage"] for e in race.final_ranking] == [3, 3, 1, 1]
    # Each finalist's objective at the end of every stage it reached, what ranked it there:
    # the two best of stage 1 raced on, and the last stage's best was chosen.
    ranked = {e["key"]: (e["stage_objectives"], e["n"]) for e in race.final_ranking}
    assert [len(ranked[e["key"]][0]) for e in race.final_ranking] == [3, 3, 1, 1]
    first = sorted(ranked, key=lambda k: (-ranked[k][0][0], ranked[k][1]))
    assert {e["key"] for e in race.final_ranking if e["stage"] > 1} == set(first[:2])
    assert ranked[good][0][-1] == chosen["objective"] > ranked[race.final_ranking[1]["key"]][0][-1]
    # Every re-evaluation is kept: a new Race on the same record answers nothing again.
    kept = json.loads((tmp_path / "run" / "racing.json").read_text())
    assert len(kept[good]) == 3800
    again = Race(evaluator, RunRecord(tmp_path / "run", {"test": True}), leaders=0,
                 leader_questions=1, draws=4)  # fmt: skip
    asked = len(evaluator.asked)

    async def replay() -> None:
        async for _ in again.final_stages(4):
            pass

    asyncio.run(replay())
    assert len(evaluator.asked) == asked and again.answered == 0
    assert again.final_ranking == race.final_ranking


def test_held_out_questions_are_never_asked_before_the_choice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = small_space(
        finalists=4,
        evaluations=8,
        parallel=2,
        dev_questions=20,
        held_out_questions=20,
        report_questions=30,
        racing={"leaders": 2, "leader_questions": 40, "draws": 4},
    )
    search = sampled_search(write(tmp_path, space), tmp_path / "r", seed=2)
    report_ids = {item.id for item in search.report_questions()}
    asked: list[tuple[bool, str]] = []
    reporting = [False]
    points = SampledEvaluator.points
    score_report = SampledEvaluator.score_report

    def spy(self: SampledEvaluator, candidate: Candidate, pairs: Any) -> list[float]:
        asked.extend((reporting[0], key) for key, _ in pairs)
        return points(self, candidate, pairs)

    async def report(self: SampledEvaluator, candidate: Candidate) -> dict[str, Any]:
        reporting[0] = True
        return await score_report(self, candidate)

    monkeypatch.setattr(SampledEvaluator, "points", spy)
    monkeypatch.setattr(SampledEvaluator, "score_report", report)
    result = asyncio.run(search.run())
    assert result["racing"]["questions"] > 0 and result["held_out"]["questions"] == 30
    selection = {key.split("\x1f")[0] for during_report, key in asked if not during_report}
    # Selection asked dev, final-ranking and further passes of them, never a held-out one.
    assert selection and not selection & report_ids
    assert any("\x1fpass" in key for _, key in asked)
    assert {key for during_report, key in asked if during_report} == report_ids


def _cut_after(monkeypatch: pytest.MonkeyPatch, calls: int) -> None:
    """Re-evaluations fail after ``calls`` of them, as a kill would stop them."""
    original = SampledEvaluator.score_positions
    count = [0]

    async def cut(self: SampledEvaluator, candidate: Candidate, start: int, stop: int) -> Any:
        count[0] += 1
        if count[0] > calls:
            raise KeyboardInterrupt
        return await original(self, candidate, start, stop)

    monkeypatch.setattr(SampledEvaluator, "score_positions", cut)


@pytest.mark.parametrize("cut", [2, 9])  # during the search, in the final ranking
def test_a_search_killed_while_racing_resumes_to_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut: int
) -> None:
    space = small_space(
        finalists=4,
        evaluations=16,
        parallel=2,
        dev_questions=20,
        held_out_questions=40,
        racing={"leaders": 2, "leader_questions": 50, "draws": 4},
    )
    path = write(tmp_path, space)

    def search(run: str) -> Search:
        return sampled_search(path, tmp_path / run, seed=5)

    whole = asyncio.run(search("whole").run())
    with monkeypatch.context() as patch:
        _cut_after(patch, cut)
        with pytest.raises(KeyboardInterrupt):
            asyncio.run(search("cut").run())
    resumed = asyncio.run(search("cut").run())
    assert resumed["best"]["key"] == whole["best"]["key"]
    assert resumed["final_ranking"] == whole["final_ranking"]
    assert resumed["racing"]["questions"] == whole["racing"]["questions"]
    lines = [(tmp_path / run / "leaderboard.jsonl").read_text() for run in ("whole", "cut")]
    assert lines[0] == lines[1]


def test_the_final_rankings_first_stage_can_start_on_more_passes(tmp_path: Path) -> None:
    record, _ = _record(tmp_path, [90.0, 85.0])
    evaluator = _Bernoulli({}, dev=200, final=800)
    race = Race(evaluator, record, leaders=0, leader_questions=None, draws=32, first_passes=4)
    assert race.stages(10, base=1000) == [(10, 4000), (5, 8000), (3, 16000), (2, 32000)]
    race = Race(evaluator, record, leaders=0, leader_questions=None, draws=32)
    assert race.stages(10, base=1000)[0] == (10, 2000)


def test_by_default_the_first_stage_takes_every_finalist_to_four_passes(
    tmp_path: Path,
) -> None:
    # Halved on two passes, the best of ten finalists a few tenths apart fell out on 4 of
    # 20 seeded searches (bench/RESULTS.md, "first stage on 4 passes"): every finalist
    # answers 4 passes (80 positions) before the better half goes on to 8 (160).
    space = small_space(
        finalists=4,
        evaluations=8,
        parallel=4,
        dev_questions=10,
        held_out_questions=10,
        racing={"leaders": 2, "draws": 8},
    )
    report = asyncio.run(sampled_search(write(tmp_path, space), tmp_path / "r", seed=1).run())
    stages = sorted((e["stage"], e["questions"]) for e in report["final_ranking"])
    assert stages == [(1, 80), (1, 80), (2, 160), (2, 160)]
    assert report["best"]["key"] == report["final_ranking"][0]["key"]


def test_finalists_tied_on_the_final_questions_are_told_apart_by_the_evidence(
    tmp_path: Path,
) -> None:
    """A real GSM8K search with 20 final-ranking questions saw three finalists at 100 and
    the first proposed won, here one whose dev score was 5 points lower than the others'.
    Tied where they are compared, finalists rank by their score over everything they
    answered, then the cheaper per query, then the key: never by proposal order."""
    space = Space(*search_file_from_dict(small_space()))
    record = RunRecord(tmp_path / "run", {"test": True})
    candidates = list(space.candidates[:4])
    dollars = [0.001, 0.002, 0.002, 0.001]  # the last proposed is the cheapest at 100
    for n, (candidate, score, cost) in enumerate(
        zip(candidates, [95.0, 100.0, 100.0, 100.0], dollars, strict=True), 1
    ):
        record.add(replace(scored(candidate, n, score, half_width=5.0), dollars_per_query=cost))
    evaluator = _Bernoulli({c.key(): 1.0 for c in candidates}, dev=200, final=20)
    race = Race(evaluator, record, leaders=0, leader_questions=1, draws=1)

    async def final() -> None:
        async for _ in race.final_stages(4):
            pass

    asyncio.run(final())
    assert {e["score"] for e in race.final_ranking} == {100.0}  # tied where compared
    tied = sorted(c.key() for c in candidates[1:3])  # equal in all but the key
    expected = [candidates[3].key(), *tied, candidates[0].key()]
    assert [e["key"] for e in race.final_ranking] == expected
