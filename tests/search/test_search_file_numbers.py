"""Every numeric key of a search file, Archon's and ours (issue 13, a new user's bad input),
is checked the same way: a whole number where a count is meant (never "1", true or 1.5
read as 1), a number where a share is, in its range; the refusal names the key, what it
takes and what it got, before the run directory is made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archon_async import ConfigError
from archon_async.search import Search, search_file_from_dict
from tests.search._spaces import small_space, write


@pytest.mark.parametrize(
    ("change", "place", "said"),
    [
        ({"model_top_k_choices": ["1"]}, "model_top_k_choices[0]", 'not "1" (a string'),
        ({"model_top_k_choices": [True]}, "model_top_k_choices[0]", "not true (true and false"),
        ({"sample_top_k_choices": [0]}, "sample_top_k_choices[0]", "of at least 1, not 0"),
        ({"fuser_layer_2_choices": [1.5]}, "fuser_layer_2_choices[0]", "at least 0, not 1.5"),
        ({"maximum_inference_calls": 12.0}, "maximum_inference_calls", "decimal point"),
        ({"init_points": "3"}, "init_points", 'not "3"'),
        ({"n_iter": True}, "n_iter", "not true"),
        ({"random_search_iterations": 2.5}, "random_search_iterations", "not 2.5"),
        ({"number_of_archon_configs_for_final_ranking": "4"}, "final_ranking", 'not "4"'),
        ({"dataset_sample_for_search": "0.5"}, "dataset_sample_for_search", "a number above 0"),
        ({"dataset_sample_for_final_ranking": True}, "final_ranking", "not true"),
        ({"archon_async": {"parallel": "4"}}, "archon_async.parallel", "at most 256, not"),
        ({"archon_async": {"ranker_top_k_choices": [0]}}, "ranker_top_k_choices[0]", "not 0"),
        ({"archon_async": {"budget": {"calls": 1.5}}}, "archon_async.budget.calls", "not 1.5"),
        ({"archon_async": {"racing": {"max_share": "1"}}}, "racing.max_share", "number of"),
        ({"archon_async": {"simulation": {"fuser_corrupt": "0.3"}}}, "fuser_corrupt", '"0.3"'),
        (
            {"archon_async": {"providers": {"Together_API": {"rpm": "600"}}}},
            "Together_API.rpm",
            "a number above 0",
        ),
        (
            {"archon_async": {"providers": {"Together_API": {"max_retries": True}}}},
            "max_retries",
            "not true",
        ),
    ],
)
def test_every_numeric_key_of_a_search_file_is_checked_the_same_way(
    tmp_path: Path, change: dict[str, Any], place: str, said: str
) -> None:
    data = small_space()
    ours = change.pop("archon_async", {})
    data = data | change
    data["archon_async"] = data["archon_async"] | ours
    with pytest.raises(ConfigError) as raised:
        Search(write(tmp_path, data), simulate=True, oracle=True, run_dir=tmp_path / "run")
    message = str(raised.value)
    assert f"{place}: must be " in message and said in message, message
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("sample", [1.5, 20.25])
def test_a_dataset_sample_is_a_share_or_a_whole_count(sample: float) -> None:
    with pytest.raises(ConfigError) as raised:
        search_file_from_dict(small_space() | {"dataset_sample_for_search": sample})
    message = str(raised.value)
    assert "dataset_sample_for_search: must be a share of the benchmark" in message
    assert f"a whole number of questions (above 1), not {sample:g}" in message


def test_whole_counts_and_shares_still_load() -> None:
    settings, _ = search_file_from_dict(
        small_space()
        | {
            "dataset_sample_for_search": 20,
            "dataset_sample_for_final_ranking": 0.25,
            "dataset_sample_for_power_ranking": 12.0,
        }
    )
    assert settings.dataset_sample_for_search == 20
    assert settings.dataset_sample_for_final_ranking == 0.25
