"""Fallback models by error type: context length, content filter, a provider down."""

from __future__ import annotations

from typing import Any

import pytest

from archon_async import Architecture, BadRequestError, ConfigError, Engine, ProviderServerError
from archon_async.core import ChatRequest
from tests.conftest import FakeProvider, fake_registry


def engine(provider: FakeProvider, fallbacks: dict[str, Any], **settings: Any) -> Engine:
    spec = {"type": "generator", "model": "small", "model_type": "Fake_API",
            "fallbacks": fallbacks}  # fmt: skip
    architecture = Architecture.from_dict({"layers": [[spec]]}, registry=fake_registry(provider))
    return Engine(architecture, providers={"Fake_API": {"max_retries": 0, **settings}})


def refusing(model: str, error: Exception) -> Any:
    def reply(request: ChatRequest) -> str:
        if request.model == model:
            raise error
        return f"answered by {request.model}"

    return reply


def notes(result: Any) -> list[dict[str, Any]]:
    return [n for n in result.trace.layers[0].components[0].notes if n["event"] == "fallback"]


@pytest.mark.parametrize(
    ("trigger", "error"),
    [
        ("context_window", BadRequestError(
            "This model's maximum context length is 8192 tokens", status_code=400)),
        ("content_policy", BadRequestError(
            "The response was filtered due to the prompt triggering content management "
            "policy", status_code=400)),
    ],
)  # fmt: skip
async def test_a_matching_error_moves_to_the_fallback_and_is_noted(
    trigger: str, error: Exception
) -> None:
    provider = FakeProvider(refusing("small", error))
    async with engine(provider, {trigger: ["big"]}) as running:
        result = await running.generate("q")
    assert result.text == "answered by big"
    assert [r.model for r in provider.requests] == ["small", "big"]
    [note] = notes(result)
    assert note["trigger"] == trigger and note["fallback"] == "big"


async def test_other_errors_do_not_use_another_triggers_fallbacks() -> None:
    error = BadRequestError("maximum context length exceeded", status_code=400)
    provider = FakeProvider(refusing("small", error))
    async with engine(provider, {"content_policy": ["big"]}) as running:
        with pytest.raises(Exception, match="every component failed"):
            await running.generate("q")
    assert [r.model for r in provider.requests] == ["small"]


async def test_an_open_circuit_sends_calls_to_the_fallback_without_trying() -> None:
    provider = FakeProvider(refusing("small", ProviderServerError("down", status_code=503)))
    # The dispatcher's breaker, with the provider's own setting, governs the call path too.
    fallbacks = {"unavailable": ["backup"]}
    async with engine(provider, fallbacks, circuit_failures=3) as running:
        for _ in range(3):  # three calls in a row given up on a server error open it
            assert (await running.generate("q")).text == "answered by backup"
        result = await running.generate("q")
    assert result.text == "answered by backup"
    # The fourth run did not try "small": its circuit was open.
    assert [r.model for r in provider.requests] == ["small", "backup"] * 3 + ["backup"]
    [note] = notes(result)
    assert note["error"].startswith("CircuitOpenError") and "not called" in note["error"]


async def test_server_errors_retried_to_success_do_not_open_the_circuit() -> None:
    """A 5xx that a retry gets past is the retry policy's business, not the breaker's:
    two failed attempts (the default threshold) in one call that then succeeds."""
    attempts: list[str] = []

    def flaky(request: ChatRequest) -> str:
        attempts.append(request.model)
        if len(attempts) <= 2:
            raise ProviderServerError("busy", status_code=503)
        return f"answered by {request.model}"

    provider = FakeProvider(flaky)
    async with engine(provider, {"unavailable": ["backup"]}, max_retries=2) as running:
        result = await running.generate("q")
    assert result.text == "answered by small" and notes(result) == []
    assert attempts == ["small"] * 3


def test_fallback_triggers_are_checked_in_the_config() -> None:
    with pytest.raises(ConfigError, match="fallbacks"):
        engine(FakeProvider(lambda r: "x"), {"timeout": ["big"]})
