"""Fallback models by error type: context length, content filter, a provider down."""

from __future__ import annotations

from typing import Any

import pytest

from archon_async import Architecture, BadRequestError, ConfigError, Engine, ProviderServerError
from archon_async.callpath._fallbacks import fallback_trigger
from archon_async.core import ChatRequest
from archon_async.simulate import ModelSettings, SimulatedServer, SimulationSettings
from archon_async.simulate._model_refusals import check_model_refusals
from archon_async.simulate._wire import BadRequest as SimulatorBadRequest
from archon_async.simulate._wire import Inbound, Wire
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


async def test_each_trigger_against_the_simulated_provider_over_http() -> None:
    """Context window, content filter and a model that is down, as the simulated server
    refuses them (each API's 400 wording, a 503): each fallback is used and noted."""
    settings = SimulationSettings(
        faults=["5xx"],
        models={
            "small-8k": ModelSettings(context_window=300),
            "prude": ModelSettings(content_filter=("forbidden",)),
            "dead": ModelSettings(fault_rate=1.0),
        },
    )

    def spec(model: str, trigger: str, fallback: Any) -> dict[str, Any]:
        return {"type": "generator", "model": model, "model_type": "OpenAI_API",
                "max_tokens": 32, "fallbacks": {trigger: [fallback]}}  # fmt: skip

    anthropic = {"model": "claude-3-5-sonnet-20240620", "model_type": "Anthropic_API"}
    layer = [
        spec("small-8k", "context_window", "big-128k"),
        spec("prude", "content_policy", anthropic),
        spec("dead", "unavailable", "backup"),
    ]
    config = {"layers": [layer], "providers": {"OpenAI_API": {"max_retries": 0}}}
    long_prompt = "a forbidden question " * 80  # about 420 tokens: over small-8k's 300
    async with SimulatedServer(settings) as server:
        async with Engine(config, simulate=str(server.base_url)) as engine:
            result = await engine.generate(long_prompt)
    components = result.trace.layers[0].components
    used = {}
    for component in components:
        [note] = [n for n in component.notes if n["event"] == "fallback"]
        used[note["model"]] = (note["trigger"], note["fallback"])
        # The failed call and the fallback's answer are both in the trace.
        assert [call.model for call in component.calls] == [note["model"], note["fallback"]]
        assert component.calls[0].error is not None and component.calls[1].error is None
    assert used == {
        "small-8k": ("context_window", "big-128k"),
        "prude": ("content_policy", "claude-3-5-sonnet-20240620"),
        "dead": ("unavailable", "backup"),
    }
    assert "maximum context length is 300 tokens" in components[0].calls[0].error
    assert "content filter" in components[1].calls[0].error
    assert "HTTP 503" in components[2].calls[0].error


async def test_a_component_of_several_samples_falls_back_too() -> None:
    """Samples drawn in one request of ``n`` (the default architecture's generators draw 5)
    had no fallback at all: the component failed on the first context-length error."""
    settings = SimulationSettings(
        request_log=100, models={"small-8k": ModelSettings(context_window=300)}
    )
    spec = {"type": "generator", "model": "small-8k", "model_type": "OpenAI_API",
            "max_tokens": 32, "samples": 3,
            "fallbacks": {"context_window": ["big-128k"]}}  # fmt: skip
    config = {"layers": [[spec]]}
    async with SimulatedServer(settings) as server:
        async with Engine(config, simulate=str(server.base_url)) as engine:
            result = await engine.generate("a long question " * 100)
        sent = [(record.model, record.n) for record in server.request_log()]
    assert len(result.candidates) == 3
    # One request of n=3 refused (the log names no model for it), then the 3 samples from
    # the fallback in one request.
    assert [n for _, n in sent] == [3, 3] and sent[1][0] == "big-128k"
    [component] = result.trace.layers[0].components
    [note] = [n for n in component.notes if n["event"] == "fallback"]
    assert note["trigger"] == "context_window" and note["fallback"] == "big-128k"
    assert note["samples"] == 3
    models = [call.model for call in component.calls]
    assert models == ["small-8k", "big-128k", "big-128k", "big-128k"]
    assert component.calls[0].error is not None


@pytest.mark.parametrize("wire", list(Wire))
def test_each_apis_context_wording_is_read_as_a_context_window_error(wire: Wire) -> None:
    inbound = Inbound(wire=wire, model="m", messages=(("user", "x" * 2000),), max_tokens=100)
    with pytest.raises(SimulatorBadRequest) as refused:
        check_model_refusals(inbound, ModelSettings(context_window=300))
    error = BadRequestError(str(refused.value), status_code=400)
    assert fallback_trigger(error) == "context_window"
    with pytest.raises(SimulatorBadRequest) as filtered:
        check_model_refusals(inbound, ModelSettings(content_filter=("XXX",)))
    assert fallback_trigger(BadRequestError(str(filtered.value), status_code=400)) == (
        "content_policy"
    )
    check_model_refusals(inbound, ModelSettings(context_window=700, content_filter=("y",)))
