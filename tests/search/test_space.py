"""Search files: Archon's keys load with their meaning; the space holds only feasible,
distinct architectures; each candidate is a plain Archon config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archon_async import Architecture, ConfigError
from archon_async.search import Candidate, Space, load_search_file, search_file_from_dict
from tests.search._spaces import EXAMPLE, MODELS, small_space, write


def _params(first: int, second: int) -> dict[str, int]:
    return {
        "model_top_k": 2,
        "sample_top_k": 1,
        "fuser_layer_1": first,
        "fuser_layer_2": second,
        "fuser_layer_3": 0,
    }


def test_archons_example_search_file_loads_unchanged() -> None:
    raw = json.loads(EXAMPLE.read_text())
    settings, models = load_search_file(EXAMPLE)
    assert settings.model_top_k_choices == raw["model_top_k_choices"] == [1, 2]
    assert settings.maximum_inference_calls == 20
    assert settings.search_algorithm_choice == "bayesian_optimization"
    assert settings.planned_evaluations() == raw["init_points"] + raw["n_iter"]
    # Archon names models by its single-model config files.
    assert [m.model for m in models] == ["claude-3-haiku-20240307", "gpt-4-turbo-2024-04-09"]
    assert [m.model_type for m in models] == ["Anthropic_API", "OpenAI_API"]
    space = Space(settings, models)
    # m1 and m2, one sample, no fusion layer: two architectures.
    assert sorted(c.key() for c in space.candidates) == ["m1s1", "m2s1"]


def test_fusion_layers_with_zero_are_absent_and_duplicates_collapse(tmp_path: Path) -> None:
    settings, models = search_file_from_dict(small_space())
    space = Space(settings, models)
    keys = [c.key() for c in space.candidates]
    assert len(keys) == len(set(keys))
    # (0, 1) and (1, 0) are one architecture: one fusion layer of one fuser.
    a = Candidate.from_params(_params(0, 1))
    b = Candidate.from_params(_params(1, 0))
    assert a == b and a.fusers == (1,)
    # A critic or ranker with no fusion layer to feed does not exist.
    lone = Candidate.from_params(
        {
            "model_top_k": 2,
            "sample_top_k": 1,
            "fuser_layer_1": 0,
            "fuser_layer_2": 0,
            "fuser_layer_3": 0,
            "critic": True,
            "ranker": True,
            "ranker_top_k": 2,
        }
    )
    assert not lone.critic and lone.ranker_top_k == 0


def test_infeasible_architectures_are_not_in_the_space() -> None:
    settings, models = search_file_from_dict(small_space())
    space = Space(settings, models)
    assert space.infeasible > 0
    assert all(space.cost(c).calls <= 12 for c in space.candidates)
    over = Candidate(3, 2, (2, 1), True, 2, "verifier")
    assert space.cost(over).calls > 12 and over not in space
    raw = (3, 2, 2, 1, 0, True, True, 2, "verifier")
    assert space.candidate_of(raw) is None


def test_calls_per_query_follow_the_layers() -> None:
    settings, models = search_file_from_dict(small_space(), base=None)
    space = Space(settings, models)
    # 2 models x 2 samples, critic + ranker + 2 fusers, verifier on 2 (2 calls each), fuser.
    c = Candidate(2, 2, (2,), True, 2, "verifier")
    assert space.cost(c).calls == 4 + 1 + 1 + 2 + 4 + 1
    config = space.archon_config(c)
    kinds = [[component["type"] for component in layer] for layer in config["layers"]]
    assert kinds == [
        ["generator"] * 2,
        ["critic"],
        ["ranker"],
        ["fuser"] * 2,
        ["verifier"],
        ["fuser"],
    ]
    assert config["layers"][0][0]["samples"] == 2
    assert config["layers"][2][0]["top_k"] == 2


def test_every_candidate_is_an_architecture_that_loads() -> None:
    settings, models = search_file_from_dict(small_space())
    space = Space(settings, models)
    for candidate in space.candidates:
        architecture = Architecture.from_dict(space.archon_config(candidate))
        calls = sum(
            spec.samples if spec.type == "generator" else 1
            for layer in architecture.layers
            for spec in layer
        )
        assert calls <= space.cost(candidate).calls


#: The keys Archon's component constructors read as ``config[key]`` (a KeyError when
#: missing): ScalingIntelligence/Archon 07114d7, src/archon/completions/components/*.py and
#: archon.py (every component needs "type"; a ranker sets its own samples).
_ARCHON_REQUIRED = {
    "generator": {"type", "model", "model_type", "temperature", "max_tokens"},
    "fuser": {"type", "model", "model_type", "temperature", "max_tokens"},
    "critic": {"type", "model", "model_type", "temperature", "samples", "max_tokens"},
    "ranker": {"type", "model", "model_type", "top_k", "temperature", "max_tokens"},
    "verifier": {"type", "model", "model_type", "temperature", "samples", "max_tokens"},
    "unit_test_generator": {"type", "model", "model_type", "temperature", "samples", "max_tokens"},
    "unit_test_evaluator": {
        "type",
        "model",
        "model_type",
        "temperature",
        "samples",
        "max_tokens",
        "remove_unit_tests_from_prompt",
    },
}


def test_every_candidate_has_the_keys_archons_loader_reads() -> None:
    # best.json must load in Archon too: its Unit_Test_Evaluator reads
    # config["remove_unit_tests_from_prompt"], so every unit-test architecture failed there.
    space = Space(*search_file_from_dict(small_space()))
    kinds = set()
    for candidate in space.candidates:
        config = space.archon_config(candidate)
        assert isinstance(config["name"], str) and isinstance(config["layers"], list)
        for layer in config["layers"]:
            assert isinstance(layer, list) and layer
            for component in layer:
                kinds.add(component["type"])
                missing = _ARCHON_REQUIRED[component["type"]] - component.keys()
                assert not missing, (candidate.key(), component["type"], missing)
    assert kinds == set(_ARCHON_REQUIRED)


def test_constraints_on_tokens_and_dollars_shrink_the_space() -> None:
    settings, models = search_file_from_dict(small_space())
    full = len(Space(settings, models))
    settings, models = search_file_from_dict(
        small_space(constraints={"max_tokens_per_query": 6000})
    )
    tight = Space(settings, models)
    assert 0 < len(tight) < full
    assert all(tight.cost(c).tokens <= 6000 for c in tight.candidates)


@pytest.mark.parametrize(
    ("change", "place"),
    [
        ({"model_top_k_choices": [0, 1]}, "model_top_k_choices[0]"),  # the choice itself
        ({"fuser_layer_2_choices": [-1]}, "fuser_layer_2_choices[0]"),
        ({"model_top_k_choices": [9]}, None),
        ({"archon_async": {"final_choices": ["judge"]}}, "archon_async.final_choices[0]"),
        ({"archon_async": {"parallel": "4"}}, "archon_async.parallel"),
    ],
)
def test_bad_values_are_config_errors_that_name_the_place(
    tmp_path: Path, change: dict[str, object], place: str | None
) -> None:
    path = write(tmp_path, small_space() | change)
    with pytest.raises(ConfigError) as caught:
        load_search_file(path)
    if place is not None:
        assert caught.value.location == place
    assert str(path) in str(caught.value)


def test_a_missing_model_config_says_where_it_looked(tmp_path: Path) -> None:
    path = write(tmp_path, small_space() | {"models_available": [*MODELS[:3], "configs/nope.json"]})
    with pytest.raises(ConfigError, match=r"no model config 'configs/nope\.json'"):
        load_search_file(path)


def test_model_paths_resolve_next_to_the_search_file(tmp_path: Path) -> None:
    own = {
        "name": "mine",
        "layers": [[{"type": "generator", "model": "my-model", "model_type": "OpenAI_API"}]],
    }
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "mine.json").write_text(json.dumps(own))
    data = small_space() | {
        "models_available": ["models/mine.json", *small_space()["models_available"][:3]]
    }
    _settings, models = load_search_file(write(tmp_path, data))
    assert models[0].model == "my-model"


def test_an_unknown_key_is_a_warning_with_a_suggestion() -> None:
    from archon_async import ConfigWarning

    data = small_space() | {"random_search_iteration": 5}
    with pytest.warns(ConfigWarning, match="did you mean 'random_search_iterations'"):
        settings, _ = search_file_from_dict(data)
    assert settings.random_search_iterations == 10  # the misspelt key changed nothing


@pytest.mark.parametrize("dollar_limit", [False, True])
def test_a_space_built_again_is_the_space_built_afresh(dollar_limit: bool) -> None:
    # A search builds its space several times and the enumeration is kept between builds
    # (in any models' order when no dollar limit makes the order matter): what a build
    # reuses must be what a fresh build finds, costs included (they are priced per order).
    from archon_async.search import _space

    extension = {}
    if dollar_limit:
        settings, models = search_file_from_dict(small_space())
        dollars = sorted(
            Space(settings, models).cost(c).dollars for c in Space(settings, models)._distinct
        )
        extension = {"constraints": {"max_dollars_per_query": dollars[len(dollars) // 2]}}
    settings, models = search_file_from_dict(small_space(**extension))
    spaces = {}
    for order in (tuple(models), tuple(reversed(models))):
        Space(settings, models)  # kept for the next build
        again = Space(settings, order)
        _space._RECENT.clear()
        fresh = Space(settings, order)
        assert again.candidates == fresh.candidates
        assert again.positions == fresh.positions and again.infeasible == fresh.infeasible
        assert {c: again.cost(c) for c in fresh._distinct} == {
            c: fresh.cost(c) for c in fresh._distinct
        }
        spaces[order] = fresh
    first, second = spaces.values()
    # The models' order changes the dollars (the best-ranked one critiques and fuses), and
    # with a dollar limit which architectures are feasible.
    assert any(first.cost(c).dollars != second.cost(c).dollars for c in first._distinct)
    assert (first.candidates != second.candidates) == dollar_limit
