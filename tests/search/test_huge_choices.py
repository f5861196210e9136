"""A search file offering a huge count (a typo of 10**12 samples, a fuser layer of 10**12)
is read and priced as quickly as a small one: such architectures are over the call limit
and left out, or the space is refused naming the least they need. Pricing built a list of
one entry per call, so 10**12 samples ended in a MemoryError traceback (and 10**9 in
minutes of work and gigabytes), found by this stop's attacker of issue 13."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_async import ConfigError
from archon_async.search import Search
from archon_async.search._space import Space
from tests.search._spaces import small_space, write

HUGE = 10**12


def test_a_huge_sample_choice_is_left_out_as_infeasible(tmp_path: Path) -> None:
    space = small_space(evaluations=3) | {"sample_top_k_choices": [1, HUGE]}
    search = Search(write(tmp_path, space), simulate=True, oracle=True, run_dir=tmp_path / "r")
    priced = Space(search.settings, search.models)
    assert priced.infeasible > 0 and len(priced) > 0
    assert all(candidate.sample_top_k == 1 for candidate in priced.candidates)


def test_a_space_of_huge_choices_only_names_the_calls_they_need(tmp_path: Path) -> None:
    space = small_space(evaluations=3) | {"sample_top_k_choices": [HUGE]}
    # Written out to the call (10**12 samples and a fuser), where "{:g}" said 1e+12.
    needs = "cheapest architecture needs 1,000,000,000,001 calls per query"
    with pytest.raises(ConfigError, match=needs):
        Search(write(tmp_path, space), simulate=True, oracle=True, run_dir=tmp_path / "r")


def test_a_huge_verifier_fan_is_priced_by_count(tmp_path: Path) -> None:
    space = small_space(evaluations=3, final_choices=["verifier"])
    space |= {"sample_top_k_choices": [HUGE], "maximum_inference_calls": 10**15}
    space |= {"fuser_layer_1_choices": [0], "fuser_layer_2_choices": [0]}
    space["archon_async"] |= {"critic_choices": [False], "ranker_choices": [False]}
    search = Search(write(tmp_path, space), simulate=True, oracle=True, run_dir=tmp_path / "r")
    priced = Space(search.settings, search.models)
    assert len(priced) == 3  # the top 1, 2 and 3 models
    for candidate in priced.candidates:  # samples, a check and a verdict each, a final fuser
        assert priced.cost(candidate).calls == 3 * candidate.model_top_k * HUGE + 1
