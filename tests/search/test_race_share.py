"""What racing may spend (issue 13, ``racing.max_share``): at most a share of the calls of
the search's own evaluations, counted as a fresh run sends them (each distinct request once
a position), so that a search whose race is cut short by the share, killed or stopped by
its budget and resumed, makes the same decisions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from archon_async.search import Candidate, Search
from archon_async.search._evaluate import EngineEvaluator
from archon_async.search._race_share import RaceShare
from archon_async.search._record import Evaluation
from archon_async.search._sharing import Names, calls_of
from archon_async.search._space import Space
from tests.search._spaces import racing_search, scored, small_space, write

DEV, FINAL = 20, 10


def _alone(model_top_k: int) -> Candidate:
    return Candidate(
        model_top_k=model_top_k,
        sample_top_k=1,
        fusers=(),
        critic=False,
        ranker_top_k=0,
        final="none",
    )


def _evaluation(candidate: Candidate, n: int, questions: int) -> Evaluation:
    made = scored(candidate, n, 80.0, half_width=2.0)
    return Evaluation(**{**made.to_json(), "ci": made.ci, "questions": questions})


def test_calls_are_counted_once_a_position_shared_requests_once(tmp_path: Path) -> None:
    search = Search(write(tmp_path, small_space()), simulate=True, run_dir=tmp_path / "run")
    space = Space(search.settings, search.models)
    two, one = _alone(2), _alone(1)
    # Two generators and the final fuser; one generator (the same first one) and its fuser.
    sizes = [len(calls_of(space, c, Names())) for c in (two, one)]
    assert sizes == [3, 2]
    share = RaceShare(space, 0.5)
    first, second = _evaluation(two, 1, 10), _evaluation(one, 2, 10)
    assert share.evaluation_calls([first]) == 3 * 10
    # The first model's sample is one request for both: 3 + 2 - 1 a question.
    assert share.evaluation_calls([first, second]) == 4 * 10
    both = [first, second]
    assert share.race_calls(both, {}) == 0
    assert share.race_calls(both, {first.key: 15}) == 3 * 5
    assert share.race_calls(both, {first.key: 15, second.key: 15}) == 4 * 5
    assert share.race_calls(both, {first.key: 15, second.key: 12}) == 4 * 2 + 3 * 3
    # Half of the evaluations' 40 calls: 20.
    assert share.fits(both, {first.key: 16})  # 18
    assert not share.fits(both, {first.key: 17})  # 21
    assert share.furthest(both, lambda level: {first.key: level}, 10, 40) == 16
    # A judged benchmark's judge calls on each answer, a later turn's own calls.
    judged = RaceShare(space, 0.5, judge_calls=2, later_turns=1)
    assert judged.evaluation_calls([first]) == (3 + 3 + 2) * 10


def _search(tmp_path: Path, run: str, budget: Any = None, **racing: Any) -> Search:
    return racing_search(
        tmp_path,
        run,
        questions=(DEV, FINAL, 0),
        finalists=2,
        # The share's subject: the two finalists alone (no predicted ones beside them).
        racing={"leaders": 2, "draws": 8, "predicted_finalists": 0, **racing},
        seed=2,
        evaluations=12,
        budget=budget,
    )


def _race_sent(monkeypatch: pytest.MonkeyPatch, search: Search) -> list[int]:
    """Counts the calls racing's re-evaluations send (they run one at a time; every
    position is answered through `score_questions`)."""
    original = EngineEvaluator.score_questions
    sent = [0]

    async def counted(self: EngineEvaluator, candidate: Candidate, pairs: Any) -> Any:
        assert search.callpath is not None
        before = search.callpath.spent().calls
        points = await original(self, candidate, pairs)
        sent[0] += search.callpath.spent().calls - before
        return points

    monkeypatch.setattr(EngineEvaluator, "score_questions", counted)
    return sent


def test_the_share_bounds_what_racing_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    free = anyio.run(_search(tmp_path, "free", max_share=None).run)
    search = _search(tmp_path, "bounded", max_share=0.5)
    estimate = search.estimate()
    sent = _race_sent(monkeypatch, search)
    report = anyio.run(search.run)
    racing = report["racing"]
    assert racing["max_share"] == 0.5 and racing["limited"]
    assert 0 < racing["calls"] <= 0.5 * racing["evaluation_calls"]
    assert racing["share"] == round(racing["calls"] / racing["evaluation_calls"], 4)
    # What a fresh run sends: the count is the calls racing sent, parse retries aside.
    assert abs(sent[0] / racing["calls"] - 1) <= 0.1, (sent[0], racing["calls"])
    # The unbounded race of the same search went further and sent more.
    assert "calls" not in free["racing"]
    assert free["racing"]["questions"] > racing["questions"]
    assert free["sent"]["calls"] > report["sent"]["calls"]
    # The final ranking still raced: two finalists, the first stage at least.
    assert len(report["final_ranking"]) == 2
    # --estimate counts the race as the share bounds it.
    low, expected, high = (estimate["calls"][end] for end in ("low", "expected", "high"))
    assert low <= report["sent"]["calls"] <= high
    assert abs(expected / report["sent"]["calls"] - 1) <= 0.2, (expected, report["sent"])
    # And tells the race's part apart.
    told = estimate["racing"]
    assert told["max_share"] == 0.5
    assert abs(told["calls"] / racing["calls"] - 1) <= 0.25, (told, racing)
    html = (tmp_path / "bounded" / "report.html").read_text()
    assert 'id="racing-spend"' in html and f"{racing['calls']:,} calls" in html


def test_a_budget_stop_in_a_race_the_share_cuts_resumes_to_the_same_result(
    tmp_path: Path,
) -> None:
    whole = anyio.run(_search(tmp_path, "whole", max_share=0.5).run)
    assert whole["racing"]["limited"]
    # Stopped by the calls budget in the race: the resumed run redoes the cut work from
    # the cache (nearly free), and counts it as the uninterrupted run did.
    cap = whole["sent"]["calls"] - whole["racing"]["calls"] // 3
    stopped = anyio.run(_search(tmp_path, "cut", {"calls": cap}, max_share=0.5).run)
    assert stopped["stopped_by"]
    resumed = anyio.run(_search(tmp_path, "cut", max_share=0.5).run)
    assert resumed["best"]["key"] == whole["best"]["key"]
    assert resumed["final_ranking"] == whole["final_ranking"]
    assert resumed["racing"] | {"questions_this_run": 0} == whole["racing"] | {
        "questions_this_run": 0
    }
    racing = [json.loads((tmp_path / run / "racing.json").read_text()) for run in ("whole", "cut")]
    assert racing[0] == racing[1]


def test_an_unbounded_race_keeps_the_identity_of_run_directories_made_before(
    tmp_path: Path,
) -> None:
    free = _search(tmp_path, "free", max_share=None).identity()["archon_async.racing"]
    bounded = _search(tmp_path, "bounded").identity()["archon_async.racing"]
    assert "max_share" not in free
    assert bounded["max_share"] == 1.0  # the default


def test_a_search_killed_in_a_race_the_share_cuts_resumes_to_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = anyio.run(_search(tmp_path, "whole", max_share=0.5).run)
    original = EngineEvaluator.score_positions
    asked = [0]

    async def cut(self: EngineEvaluator, candidate: Candidate, start: int, stop: int) -> Any:
        asked[0] += 1
        points = await original(self, candidate, start, stop)
        if asked[0] == 3:  # killed once the third re-evaluation's calls are all sent
            raise KeyboardInterrupt
        return points

    with monkeypatch.context() as patch:
        patch.setattr(EngineEvaluator, "score_positions", cut)
        with pytest.raises(KeyboardInterrupt):
            anyio.run(_search(tmp_path, "cut", max_share=0.5).run)
    resumed = anyio.run(_search(tmp_path, "cut", max_share=0.5).run)
    assert resumed["final_ranking"] == whole["final_ranking"]
    assert resumed["best"]["key"] == whole["best"]["key"]
    assert resumed["racing"]["calls"] == whole["racing"]["calls"]


def test_the_first_stage_passes_one_pass_only_as_the_share_allows(tmp_path: Path) -> None:
    # The first stage takes every finalist to 4 passes (racing.first_passes) when racing
    # may spend it; with nothing to spend it still runs, to one pass over the selection
    # questions (Archon's final ranking), and the race ends there.
    single = DEV + FINAL
    tight = anyio.run(_search(tmp_path, "tight", max_share=0.0).run)
    assert tight["racing"]["limited"]
    assert [(e["stage"], e["questions"]) for e in tight["final_ranking"]] == [(1, single)] * 2
    free = anyio.run(_search(tmp_path, "free", max_share=None).run)
    stages = [e["stage_objectives"] for e in free["final_ranking"]]
    assert [len(s) for s in stages] == [2, 2]  # 4 passes, then 8
    assert [(e["stage"], e["questions"]) for e in free["final_ranking"]] == [(2, 8 * single)] * 2
