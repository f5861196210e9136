"""``--estimate`` and the selections that hand on their input unchanged (the cache answers
what comes after them): a verifier on one candidate, a ranker keeping the order shown."""

from __future__ import annotations

import math
from pathlib import Path

import anyio
import pytest

from archon_async.search import Candidate, Search, Space, search_file_from_dict
from archon_async.search._sharing import Names, PassThrough, calls_of
from tests.search._spaces import small_space, write


def _fusers(space: Space, names: Names, passes: PassThrough | None, **params: object) -> list[int]:
    candidate = Candidate(
        model_top_k=2,
        sample_top_k=1,
        fusers=(1,),
        critic=False,
        ranker_top_k=int(params.get("ranker", 0)),  # type: ignore[call-overload]
        final=str(params.get("final", "none")),
    )
    return [c.name for c in calls_of(space, candidate, names, passes) if c.kind == "fuser"]


def test_what_follows_a_selection_handing_on_its_input_is_named_as_without_it() -> None:
    space = Space(*search_file_from_dict(small_space()))
    names, passes = Names(), PassThrough({}, seed=0)
    plain = _fusers(space, names, passes)
    # A verifier shown one candidate hands it on whatever its verdict (Archon passes the
    # rejected ones on when none is verified): the final fuser reads what it would read
    # without the verifier, the same request.
    assert _fusers(space, names, passes, final="verifier") == plain
    # The unit tests stay in the final fuser's prompt: another request.
    assert _fusers(space, names, passes, final="unit_tests")[-1] != plain[-1]
    # Without draws (racing's share counts so) a selection always changes its input.
    assert _fusers(space, names, None, final="verifier")[-1] != plain[-1]
    # A ranker keeps the order shown as often as any other order of what it keeps.
    assert PassThrough({}, seed=0).chance("ranker", 2, 2) == 0.5
    assert PassThrough({}, seed=0).chance("ranker", 4, 2) == 1 / math.perm(4, 2)
    # A verifier on more candidates: the chance measured for two, once per further one.
    shares = PassThrough({"verifier": 0.8}, seed=0)
    assert shares.chance("verifier", 3, 3) == pytest.approx(0.64)
    assert PassThrough({}, seed=0).chance("verifier", 2, 2) == 0.0  # nothing measured
    same = 0
    for seed in range(40):
        names, passes = Names(), PassThrough({}, seed=seed)
        ranked = _fusers(space, names, passes, ranker=2)
        same += ranked == _fusers(space, names, None)
        assert ranked == _fusers(space, names, passes, ranker=2)  # once per ranking call
    assert 8 <= same <= 32  # drawn: about half the questions


def test_a_grid_of_selections_is_estimated_with_the_calls_the_cache_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Grid search over 32 architectures that differ by a ranker or a final verifier, on
    # the simulated provider: what follows a selection that handed on its input is answered
    # by the cache. Named as always changed, the estimate is 38% over this run (491 calls;
    # grid search over the small space of bench/search_passes.py: 18-20% over).
    data = small_space(
        evaluations=100,
        dev_questions=10,
        held_out_questions=0,
        report_questions=0,
        parallel=4,
        final_choices=["none", "verifier"],
        algorithm="grid_search",
        # Every architecture on every dev question and no race: the sharing alone.
        early_stopping={"enabled": False},
        racing={"draws": 1},
    )
    data |= {"model_top_k_choices": [1, 2], "sample_top_k_choices": [1]}
    data |= {"fuser_layer_1_choices": [1, 2], "fuser_layer_2_choices": [0]}
    search = Search(write(tmp_path, data), simulate=True, run_dir=tmp_path / "run", seed=1)
    estimate = search.estimate()["calls"]["expected"]
    with monkeypatch.context() as patch:
        patch.setattr(PassThrough, "__call__", lambda *_: False)
        named = search.estimate()["calls"]["expected"]
    sent = anyio.run(search.run)["sent"]["calls"]
    assert abs(estimate / sent - 1) <= 0.1, (estimate, sent)
    assert named / sent - 1 > 0.3, (named, sent)
