"""Shared fixtures: an in-process fake provider, so engine tests need no network."""

from __future__ import annotations

import importlib.util
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from archon_async import ChatRequest, ChatResponse, ProviderSettings, Registry
from archon_async.core import CallRecord, Usage
from tests.cli_process import ROOT as ROOT
from tests.cli_process import run_cli as run_cli

# The published Archon configurations, shipped in the repository (configs/archon/NOTICE.md).
ARCHON_CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "archon"

Reply = Callable[[ChatRequest], Awaitable[str] | str]


def pytest_addoption(parser: pytest.Parser) -> None:
    # pyproject's `timeout` is pytest-timeout's (the dev extra). A venv installed before it
    # was added still runs the tests (--strict-config would refuse the unknown key), with
    # no time limit, until `pip install -e '.[dev]'` brings the plugin.
    if importlib.util.find_spec("pytest_timeout") is None:
        parser.addini("timeout", "per-test time limit (pip install -e '.[dev]' for it)")


@dataclass
class FakeProvider:
    """Answers every request with ``reply(request)``; records requests and concurrency."""

    reply: Reply
    requests: list[ChatRequest] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    cancelled: int = 0
    closed: bool = False

    async def send(self, request: ChatRequest, *, api_key: str | None) -> ChatResponse:
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            text = self.reply(request)
            if not isinstance(text, str):
                text = await text
        except anyio.get_cancelled_exc_class():
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
        return ChatResponse(
            text=text, usage=Usage(input_tokens=10, output_tokens=5), model=request.model
        )

    async def aclose(self) -> None:
        self.closed = True


def fake_registry(provider: FakeProvider, model_type: str = "Fake_API") -> Registry:
    """The default registry plus ``model_type`` served by ``provider``."""

    def factory(name: str, settings: ProviderSettings) -> FakeProvider:
        return provider

    return Registry.default().add_provider(model_type, factory)


def last_user(request: ChatRequest) -> str:
    """The text of the last message of a request."""
    return request.messages[-1]["content"]


@pytest.fixture
def archon_configs() -> list[Path]:
    """Every Archon configuration published with the original project."""
    files = sorted(ARCHON_CONFIGS.glob("*.json"))
    assert files, f"no Archon configs found in {ARCHON_CONFIGS}"
    return files


def summary_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON summary a command printed last on standard error (where every summary goes)."""
    text = done.stderr
    summary = orjson.loads(text[text.rindex("\n{\n") + 1 :])
    assert isinstance(summary, dict)
    return summary


def call_record(
    model: str, tokens_in: int, tokens_out: int, provider: str = "OpenAI_API"
) -> CallRecord:
    """A finished call of ``model`` with these tokens (0.1 s, no retry), for spend tests."""
    return CallRecord(
        model=model,
        provider=provider,
        latency_s=0.1,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        retries=0,
    )
