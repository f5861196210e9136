"""Config files that JSON tools read differently, values that cannot mean what they say, and
self-hosted servers without a base URL: a clear ConfigError or a load-time warning naming the
file and the place, never a traceback and never a surprise at the first call."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from archon_async import Architecture, ConfigError, Engine
from archon_async._config import ConfigWarning
from tests.conftest import run_cli


def generator(**settings: Any) -> dict[str, Any]:
    return {"type": "generator", "model": "m", "model_type": "OpenAI_API", **settings}


def config(*layers: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    return {"name": "c", "layers": list(layers), **top}


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "arch.json"
    path.write_bytes(data)
    return path


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        Architecture.from_file(path)
    return caught.value


def test_a_file_that_is_not_utf8_names_the_line_and_column(tmp_path: Path) -> None:
    text = '{"name": "x",\n "layers": [[{"type": "generator", "model": "caf\xe9"}]]}'
    path = write(tmp_path, text.encode("latin-1"))
    error = load_error(path)
    assert (
        error.source == str(path) and error.location == "line 2, column 49"
    )  # the byte after "caf"
    assert "not UTF-8" in str(error) and "0xe9" in str(error)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbf" + json.dumps(config([generator()])).encode())
    assert Architecture.from_file(path).layers[0][0].model == "m"


@pytest.mark.parametrize("depth", [100, 100_000])
def test_json_nested_thousands_deep_is_a_config_error(tmp_path: Path, depth: int) -> None:
    path = write(tmp_path, b"[" * depth + b"]" * depth)
    error = load_error(path)
    assert "nests" in str(error) and str(path) in str(error)


def test_deep_nesting_inside_a_setting_names_the_place() -> None:
    deep: Any = 1
    for _ in range(80):
        deep = {"a": deep}
    with pytest.raises(ConfigError, match="nests more than 64") as caught:
        Architecture.from_dict(config([generator(ranker_config=deep)]))
    assert (caught.value.location or "").startswith("layers[0][0].ranker_config.a")


@pytest.mark.parametrize(
    ("text", "place", "spelling"),
    [
        (
            '"providers": {"OpenAI_API": {"timeout_s": Infinity}}',
            "providers.OpenAI_API.timeout_s",
            "Infinity",
        ),
        (
            '"providers": {"OpenAI_API": {"rpm": -Infinity}}',
            "providers.OpenAI_API.rpm",
            "-Infinity",
        ),
        ('"x": [1, NaN]', "x[1]", "NaN"),
    ],
)
def test_nan_and_infinity_are_config_errors_naming_the_place(
    tmp_path: Path, text: str, place: str, spelling: str
) -> None:
    layers = json.dumps([[generator()]])
    path = write(tmp_path, f'{{"layers": {layers}, {text}}}'.encode())
    error = load_error(path)
    assert error.location == place and spelling in str(error)


def test_an_infinite_float_given_in_a_dict_is_refused_too() -> None:
    with pytest.raises(ConfigError) as caught:
        Architecture.from_dict(
            config([generator()], providers={"OpenAI_API": {"timeout_s": 1e999}})
        )
    assert caught.value.location == "providers.OpenAI_API.timeout_s"


def test_a_duplicate_key_is_an_error_naming_the_object(tmp_path: Path) -> None:
    text = (
        '{"layers": [[{"type": "generator", "model": "m", "model_type": "OpenAI_API",'
        ' "temperature": 0.1, "temperature": 0.9}]]}'
    )
    error = load_error(write(tmp_path, text.encode()))
    assert error.location == "layers[0][0]" and "'temperature' appears more than once" in str(error)


def warnings_of(data: dict[str, Any]) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConfigWarning)
        Architecture.from_dict(data)
    return [str(w.message) for w in caught]


def test_top_k_larger_than_the_candidates_it_gets_is_warned() -> None:
    ranker = {"type": "ranker", "model": "m", "model_type": "OpenAI_API", "top_k": 5}
    verifier = {"type": "verifier", "model": "m", "model_type": "OpenAI_API", "first_k": 4}
    notes = warnings_of(config([generator(samples=2), generator()], [ranker], [verifier]))
    assert notes == [
        "<dict>, layers[1][0].top_k: 5 is more than the 3 candidates this ranker can receive "
        "from the layers before it; it keeps at most 3",
        "<dict>, layers[2][0].first_k: 4 is more than the 3 candidates this verifier can "
        "receive from the layers before it; it keeps at most 3",
    ]


def test_a_max_tokens_no_model_writes_is_warned() -> None:
    (note,) = warnings_of(config([generator(max_tokens=10**12)]))
    assert note.startswith("<dict>, layers[0][0].max_tokens: 1,000,000,000,000 is far more")


def test_ten_thousand_samples_on_eight_generators_states_the_calls_per_prompt() -> None:
    fuser = {"type": "fuser", "model": "m", "model_type": "OpenAI_API"}
    (note,) = warnings_of(config([generator(samples=10_000)] * 8, [fuser]))
    assert note.startswith(
        "<dict>, layers[0]: this architecture makes up to 80,001 calls per prompt "
        "(80,000 in this layer: 8 generators x 10,000 samples)"
    )


def test_a_rate_of_one_request_a_millennium_is_warned() -> None:
    notes = warnings_of(config([generator(samples=3)], providers={"OpenAI_API": {"rpm": 1e-9}}))
    (note,) = notes
    assert note.startswith("<dict>, providers.OpenAI_API.rpm: 1e-09 allows one request every 1,9")
    assert "one prompt of this architecture (3 calls) takes" in note


def test_published_configs_get_none_of_these_warnings() -> None:
    for name in Architecture.names("archon"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConfigWarning)
            Architecture.from_name(name)
        for warning in caught:
            text = str(warning.message)
            assert "calls per prompt" not in text and "candidates this" not in text, text
            assert "far more than any model" not in text and "per minute meant" not in text


SELF_HOSTED = config(
    [generator(model_type="OpenAI_API")],
    [{"type": "fuser", "model": "local", "model_type": "OpenAI_Compatible"}],
)


async def test_a_self_hosted_server_without_base_url_fails_at_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_COMPATIBLE_BASE_URL", raising=False)
    engine = Engine(SELF_HOSTED, keys={"OPENAI_API_KEY": ["sk-test-1234567890"]})
    with pytest.raises(ConfigError) as caught:
        await engine.open()
    error = caught.value
    assert error.source == "<dict>" and error.location == "layers[1][0]"
    assert "OPENAI_COMPATIBLE_BASE_URL" in str(
        error
    ) and "providers.OpenAI_Compatible.base_url" in str(error)
    await engine.aclose()


async def test_a_base_url_from_the_environment_or_the_config_is_enough(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = {"OPENAI_API_KEY": ["sk-test-1234567890"]}
    monkeypatch.setenv("OPENAI_COMPATIBLE_BASE_URL", "http://127.0.0.1:9/v1")
    async with Engine(SELF_HOSTED, keys=keys) as engine:
        assert engine.is_open
    monkeypatch.delenv("OPENAI_COMPATIBLE_BASE_URL")
    given = {**SELF_HOSTED, "providers": {"OpenAI_Compatible": {"base_url": "http://127.0.0.1:9"}}}
    async with Engine(given, keys=keys) as engine:
        assert engine.is_open


def test_validate_names_the_file_component_and_variable(tmp_path: Path) -> None:
    path = tmp_path / "local.json"
    layer = [{"type": "generator", "model": "llama", "model_type": "vLLM"}]
    path.write_text(json.dumps({"name": "local", "layers": [layer]}))
    done = run_cli("validate", str(path), env_without_keys=True)
    # The file is valid: what it needs to run is said, with the file, place and variable.
    assert done.returncode == 0, done.stderr
    assert "note: needs a base URL to run" in done.stdout
    assert f"{path}, layers[0][0]: model_type 'vLLM' (model 'llama')" in done.stdout
    assert "set VLLM_BASE_URL" in done.stdout
