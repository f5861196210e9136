"""A real model one flag away: ``--base-url URL --model NAME`` points every component of any
architecture at one OpenAI-compatible server (here the simulator, served in a subprocess on
127.0.0.1 as a user's llama-server would be), and the same in Python."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from archon_async import Architecture, ConfigError, ConfigWarning, Engine
from tests.cli_process import expect_status, simulator_process
from tests.conftest import FakeProvider, fake_registry, run_cli


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    """An OpenAI-compatible server on loopback (the simulator, as its own process)."""
    with simulator_process("--request-log", "99", logs=tmp_path / "simulator") as url:
        yield url


def test_base_url_and_model_point_every_component_at_one_server(server_url: str) -> None:
    done = run_cli(
        "run",
        "archon/MoA-lite",
        "What is 17 * 23?",
        "--base-url",
        f"{server_url}/v1",
        "--model",
        "my-local-model",
        "--max-tokens",
        "64",
        env_without_keys=True,  # a local server needs no key
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    requests = httpx.get(f"{server_url}/requests").json()
    # MoA-lite: six generators, then a fuser; every call on the one server and model.
    assert len(requests) == 7
    assert {r["model"] for r in requests} == {"my-local-model"}
    assert {r["endpoint"] for r in requests} == {"openai.chat_completions"}


def test_base_url_and_simulate_exclude_each_other() -> None:
    done = run_cli("run", "default", "Hi?", "--simulate", "--base-url", "http://127.0.0.1:9/v1")
    expect_status(done, 2)
    assert "exclude each other" in done.stderr


async def test_with_overrides_in_python_sends_the_overridden_values() -> None:
    provider = FakeProvider(lambda request: "an answer")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        lite = Architecture.from_name("archon/MoA-lite", registry=fake_registry(provider))
    architecture = lite.with_overrides(
        model="qwen2.5:7b", model_type="Fake_API", max_tokens=64, temperature=0.2
    )
    async with Engine(architecture) as engine:
        result = await engine.generate("Hello?")
    assert result.text == "an answer"
    assert len(provider.requests) == 7
    assert {(r.model, r.max_tokens, r.temperature) for r in provider.requests} == {
        ("qwen2.5:7b", 64, 0.2)
    }
    assert lite.model_types() == {"Together_API"}  # the original is unchanged


def test_a_base_url_means_an_openai_compatible_provider_at_that_url() -> None:
    architecture = Architecture.from_name("default").with_overrides(
        base_url="http://127.0.0.1:8080/v1", model="llama"
    )
    assert architecture.model_types() == {"OpenAI_Compatible"}
    assert architecture.providers["OpenAI_Compatible"].base_url == "http://127.0.0.1:8080/v1"
    with pytest.raises(ConfigError, match="http://"):
        Architecture.from_name("default").with_overrides(base_url="127.0.0.1:8080")
    with pytest.raises(ConfigError, match="max_tokens"):
        Architecture.from_name("default").with_overrides(max_tokens=0)


def test_the_readme_simulator_lines_need_no_key(server_url: str) -> None:
    done = run_cli(
        "run", "archon/MoA-lite", "Hello?", "--simulate-url", server_url, env_without_keys=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    requests = httpx.get(f"{server_url}/requests").json()
    assert len(requests) == 7
