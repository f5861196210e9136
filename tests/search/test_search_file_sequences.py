"""A search configuration given from Python takes a tuple where JSON has an array (issue 13,
found by the new-user test: ``search_file_from_dict`` refused ``(1, 2)`` for
``model_top_k_choices`` with "Input should be a valid list"); a string is still no list,
and a search file, JSON, is read as strictly as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_async import ConfigError
from archon_async.search import Space, load_search_file, search_file_from_dict
from tests.search._spaces import small_space, write


def test_tuples_and_ranges_read_as_the_lists_json_would_give() -> None:
    as_lists = small_space(budget={"calls": 500})
    as_tuples = small_space(budget={"calls": 500})
    as_tuples |= {
        "model_top_k_choices": (1, 2, 3),
        "sample_top_k_choices": range(1, 3),
        "fuser_layer_1_choices": (0, 1, 2),
        "models_available": tuple(as_lists["models_available"]),
    }
    ours = as_tuples["archon_async"]
    ours |= {"critic_choices": (False, True), "final_choices": ("none", "verifier", "unit_tests")}
    settings, models = search_file_from_dict(as_tuples)
    expected, expected_models = search_file_from_dict(as_lists)
    assert settings == expected
    assert settings.model_top_k_choices == [1, 2, 3]
    assert settings.sample_top_k_choices == [1, 2]
    assert settings.archon_async.final_choices == ["none", "verifier", "unit_tests"]
    assert [m.model for m in models] == [m.model for m in expected_models]
    assert len(Space(settings, models)) == len(Space(expected, expected_models))


def test_a_string_is_still_no_list() -> None:
    with pytest.raises(ConfigError) as raised:
        search_file_from_dict(small_space() | {"model_top_k_choices": "12"})
    assert "model_top_k_choices" in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        search_file_from_dict(small_space() | {"models_available": "Qwen2-72B-Instruct"})
    assert "models_available" in str(raised.value)


def test_a_search_file_is_read_as_json_writes_it(tmp_path: Path) -> None:
    settings, _ = load_search_file(write(tmp_path, small_space()))
    assert settings.model_top_k_choices == [1, 2, 3]
    bad = write(tmp_path, small_space() | {"fuser_layer_1_choices": "012"}, "bad.json")
    with pytest.raises(ConfigError) as raised:
        load_search_file(bad)
    assert "fuser_layer_1_choices" in str(raised.value)
