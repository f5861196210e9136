"""A base URL that is not an http(s) URL with a host is refused when the engine opens,
before any call, naming where it came from (it was met only at the first call, retried,
and then every prompt of a batch failed with 'connection failed')."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archon_async import ConfigError, Engine
from tests.conftest import run_cli

KEYS = {"TOGETHER_API_KEY": ["tgp-test-1234567890"]}


def config(**component: Any) -> dict[str, Any]:
    spec = {"type": "generator", "model": "m", "model_type": "Together_API", **component}
    return {"name": "one", "layers": [[spec]]}


@pytest.mark.parametrize("url", ["notaurl", "ftp://x/v1", "http://", "http://127.0.0.1:99999/v1"])
async def test_a_bad_base_url_from_the_environment_fails_at_open(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("TOGETHER_BASE_URL", url)
    engine = Engine(config(), keys=KEYS)
    with pytest.raises(ConfigError) as caught:
        await engine.open()
    message = str(caught.value)
    assert "from the environment variable TOGETHER_BASE_URL" in message
    assert "give an http:// or https:// URL with a host" in message
    assert caught.value.location == "layers[0][0]"
    await engine.aclose()


async def test_a_bad_base_url_in_the_config_names_its_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TOGETHER_BASE_URL", raising=False)
    given = {**config(), "providers": {"Together_API": {"base_url": "localhost:8000/v1"}}}
    engine = Engine(given, keys=KEYS)
    with pytest.raises(ConfigError, match=r"from providers\.Together_API\.base_url"):
        await engine.open()
    await engine.aclose()
    engine = Engine(config(base_url="127.0.0.1:8000"), keys=KEYS)
    with pytest.raises(ConfigError, match="from its 'base_url'"):
        await engine.open()
    await engine.aclose()
    async with Engine(config(base_url="http://127.0.0.1:9/v1"), keys=KEYS) as engine:
        assert engine.is_open  # a good one opens (nothing is called)


def test_cli_batch_refuses_a_bad_base_url_variable_before_any_call(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"id": 1, "prompt": "q"}\n')
    config_file = tmp_path / "one.json"
    config_file.write_text(
        '{"name": "one", "layers": [[{"type": "generator", "model": "m",'
        ' "model_type": "OpenAI_Compatible", "base_url": "notaurl"}]]}'
    )
    out = tmp_path / "out.jsonl"
    done = run_cli(
        "batch", str(config_file), "--input", str(prompts), "--output", str(out),
        env_without_keys=True,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "has the base URL 'notaurl' from its 'base_url'" in done.stderr
    assert "Traceback" not in done.stderr and "connection failed" not in done.stderr
