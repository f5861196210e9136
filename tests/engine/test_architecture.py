"""Loading Archon configurations: every published one, the legacy forms, and clear errors."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from archon_async import Architecture, ConfigError, ConfigWarning, Registry


def _load_quietly(path: Path) -> Architecture:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        return Architecture.from_file(path)


def test_every_published_archon_config_loads(archon_configs: list[Path]) -> None:
    for path in archon_configs:
        architecture = _load_quietly(path)
        raw = json.loads(path.read_text())
        assert architecture.depth == len(raw["layers"]), path.name
        assert all(layer for layer in architecture.layers), path.name


def test_every_config_round_trips(archon_configs: list[Path]) -> None:
    for path in archon_configs:
        architecture = _load_quietly(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConfigWarning)
            again = Architecture.from_dict(architecture.to_dict())
        assert again.to_dict() == architecture.to_dict(), path.name
        assert again.layers == architecture.layers


def _component(**overrides: Any) -> dict[str, Any]:
    base = {
        "type": "generator",
        "model": "m",
        "model_type": "OpenAI_API",
        "temperature": 0.7,
        "max_tokens": 64,
        "samples": 1,
    }
    base.update(overrides)
    return base


def test_legacy_object_layers_and_single_component_layers() -> None:
    config = {
        "name": "legacy",
        "layers": [
            {"branches": 1, "models": [_component(), _component(model="m2")]},
            {
                "type": "fuser",
                "model": "f",
                "model_type": "OpenAI_API",
                "temperature": 0.7,
                "max_tokens": 64,
            },
        ],
    }
    architecture = Architecture.from_dict(config)
    assert [len(layer) for layer in architecture.layers] == [2, 1]
    assert architecture.layers[1][0].type == "fuser"
    assert architecture.to_dict()["layers"][0][1]["model"] == "m2"


def test_misspelled_key_warns_with_suggestion() -> None:
    config = {"layers": [[_component()], [_component(type="fuser", length_contorl=True)]]}
    with pytest.warns(ConfigWarning, match=r"layers\[1\]\[0\]\.length_contorl.*'length_control'"):
        architecture = Architecture.from_dict(config)
    assert architecture.layers[1][0].length_control is False  # ignored, as Archon ignores it
    assert any("length_contorl" in note for note in architecture.warnings)


def test_unknown_keys_of_a_legacy_layer_warn() -> None:
    config = {"layers": [{"branchs": 2, "models": [_component()]}]}
    with pytest.warns(ConfigWarning, match=r"layers\[0\]\.branchs.*did you mean 'branches'"):
        Architecture.from_dict(config)


def test_malformed_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "layers": [\n    [ {"type": "generator",, } ]\n  ]\n}\n')
    with pytest.raises(ConfigError) as info:
        Architecture.from_file(path)
    message = str(info.value)
    assert str(path) in message and "line 3, column" in message
    assert info.value.location is not None and info.value.location.startswith("line 3")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        Architecture.from_file(tmp_path / "nope.json")


@pytest.mark.parametrize(
    ("layers", "location", "words"),
    [
        ([[_component()], [_component(type="ranker", top_k=0)]], "layers[1][0].top_k", "greater"),
        ([[{"type": "generator", "model_type": "OpenAI_API"}]], "layers[0][0].model", "missing"),
        ([[_component()], [_component(type="fusr")]], "layers[1][0].type", "did you mean 'fuser'"),
        ([[_component(model_type="OpenAI_APII")]], "layers[0][0].model_type", "OpenAI_API"),
        ([[_component(type="critic")]], "layers[0][0].type", "earlier layer"),
        (
            [[_component()], [_component(type="unit_test_evaluator")]],
            "layers[1][0].type",
            "unit_test_generator",
        ),
        ([[_component(samples=0)]], "layers[0][0].samples", "greater"),
        ([[]], "layers[0]", "non-empty"),
        ([{"branches": 1, "models": [_component(), "oops"]}], "layers[0].models[1]", "object"),
        # Values are strict: no guessing that "5" or true meant a number.
        ([[_component()], [_component(type="ranker", top_k="5")]], "layers[1][0].top_k", "5"),
        ([[_component()], [_component(type="ranker", top_k=True)]], "layers[1][0].top_k", "int"),
        ([[_component(no_system="yes")]], "layers[0][0].no_system", "bool"),
        ([[_component(model_type="")]], "layers[0][0].model_type", "'model_type' is missing"),
        # A refused key of a mapping is named as such (it read "fallbacks.other.[key]: ...
        # fix '[key]' in the config").
        (
            [[_component(fallbacks={"context": ["big"]})]],
            "layers[0][0].fallbacks",
            "unknown key 'context': input should be 'context_window', 'content_policy' or",
        ),
    ],
)
def test_config_errors_name_their_place(layers: Any, location: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        Architecture.from_dict({"name": "x", "layers": layers}, source="arch.json")
    assert info.value.location == location
    assert "arch.json" in str(info.value)
    assert words in str(info.value)


def test_layers_must_be_a_non_empty_list() -> None:
    # An empty list is said to be empty, not "not a list" (found by the new-user test).
    with pytest.raises(ConfigError, match="'layers' is empty: it must be a non-empty list"):
        Architecture.from_dict({"name": "x", "layers": []})
    with pytest.raises(ConfigError, match="'layers' is not a list: it must be a non-empty"):
        Architecture.from_dict({"name": "x", "layers": {"0": [_component()]}})
    # A misspelled 'layers' is the likely cause: the error says so.
    with pytest.raises(ConfigError, match=r"'layers' is missing.*did you mean 'layers'"):
        Architecture.from_dict({"name": "x", "layer": [[_component()]]})
    with pytest.raises(ConfigError, match="JSON object"):
        Architecture.from_dict([1, 2])


def test_providers_section_is_strict() -> None:
    good = {
        "layers": [[_component()]],
        "providers": {"OpenAI_API": {"base_url": "http://127.0.0.1:9/v1", "rpm": 600}},
    }
    architecture = Architecture.from_dict(good)
    assert architecture.providers["OpenAI_API"].rpm == 600
    assert Architecture.from_dict(architecture.to_dict()).providers == architecture.providers
    bad = {"layers": [[_component()]], "providers": {"OpenAI_API": {"rpmm": 1}}}
    with pytest.raises(ConfigError) as info:
        Architecture.from_dict(bad)
    assert info.value.location == "providers.OpenAI_API.rpmm"
    with pytest.raises(ConfigError, match="Nope_API"):
        Architecture.from_dict({"layers": [[_component()]], "providers": {"Nope_API": {}}})


def test_custom_types_load_against_a_custom_registry() -> None:
    async def tagger(ctx: Any, state: Any) -> dict[str, Any]:
        return {"tags": ["x"]}

    async def echo(request: Any) -> str:
        return "echo"

    registry = Registry.default().add_component("tagger", tagger).add_generator("Echo_API", echo)
    config = {"layers": [[_component(model_type="Echo_API")], [{"type": "tagger", "model": "-"}]]}
    architecture = Architecture.from_dict(config, registry=registry)
    assert architecture.layers[1][0].type == "tagger"
    with pytest.raises(ConfigError, match="no provider is registered for model_type 'Echo_API'"):
        Architecture.from_dict(config)
    config["layers"][0] = [_component()]
    with pytest.raises(ConfigError, match="unknown component type 'tagger'"):
        Architecture.from_dict(config)
