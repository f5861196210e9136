"""Two servers of one model_type and model (two vLLM or OpenAI-compatible base URLs) have a
circuit each: one of them down leaves the other's calls alone. The circuit was keyed by
(model_type, model), so the first server's failures opened it for the second too, whose
calls then failed at once and went to their fallback."""

from __future__ import annotations

from typing import Any

import pytest

from archon_async import CallPath, CircuitOpenError, Engine
from archon_async._circuit import CircuitBreakers
from archon_async._exceptions import ProviderTimeoutError
from archon_async.simulate import ModelSettings, SimulatedServer, SimulationSettings
from tests.providers.helpers import FakeClock, chat_request

PROVIDER = {"max_retries": 0, "circuit_failures": 2, "circuit_open_s": 60.0}


def _generator(url: str) -> dict[str, Any]:
    return {
        "type": "generator",
        "model": "m",
        "model_type": "OpenAI_Compatible",
        "base_url": url,
        "max_tokens": 32,
        "fallbacks": {"unavailable": ["backup"]},
    }


def _fallbacks(component: Any) -> list[dict[str, Any]]:
    return [note for note in component.notes if note["event"] == "fallback"]


async def test_one_server_down_leaves_the_other_servers_circuit_closed() -> None:
    down = SimulationSettings(faults=["5xx"], models={"m": ModelSettings(fault_rate=1.0)})
    async with (
        SimulatedServer(down.model_copy(update={"request_log": 100})) as sick,
        SimulatedServer(SimulationSettings(request_log=100)) as well,
    ):
        layer = [_generator(sick.openai_base_url), _generator(well.openai_base_url)]
        config = {"layers": [layer], "providers": {"OpenAI_Compatible": PROVIDER}}
        async with Engine(config) as engine:
            results = [await engine.generate(f"question {i}") for i in range(6)]
        sick_sent = [record.model for record in sick.request_log()]
        well_sent = [record.model for record in well.request_log()]

    # The healthy server answered every prompt's call itself: no fallback for it.
    assert well_sent == ["m"] * 6, well_sent
    for result in results:
        on_sick, on_well = result.trace.layers[0].components
        assert _fallbacks(on_well) == []
        assert [call.model for call in on_well.calls] == ["m"]
        assert [note["fallback"] for note in _fallbacks(on_sick)] == ["backup"]
    # The sick server's circuit opened after 2 calls given up on 5xx; then its calls
    # went to the fallback without a request, and the trace names that server's circuit.
    assert sick_sent.count("m") == 2 and sick_sent.count("backup") == 6, sick_sent
    [note] = _fallbacks(results[-1].trace.layers[0].components[0])
    refused = note["error"]
    assert refused.startswith("CircuitOpenError"), refused
    assert f"its circuit at {sick.openai_base_url} is open" in refused, refused


async def test_a_servers_open_circuit_does_not_refuse_the_other_servers_calls() -> None:
    # Before: the circuit of (OpenAI_Compatible, m) opened by the sick server refused the
    # healthy server's calls at once, and they went to their fallback.
    down = SimulationSettings(faults=["5xx"], models={"m": ModelSettings(fault_rate=1.0)})
    async with (
        SimulatedServer(down.model_copy(update={"request_log": 100})) as sick,
        SimulatedServer(SimulationSettings(request_log=100)) as well,
        CallPath(providers={"OpenAI_Compatible": PROVIDER}) as calls,
    ):
        on_sick = Engine({"layers": [[_generator(sick.openai_base_url)]]}, callpath=calls)
        on_well = Engine({"layers": [[_generator(well.openai_base_url)]]}, callpath=calls)
        for i in range(3):  # the sick server's circuit opens
            await on_sick.generate(f"question {i}")
        results = [await on_well.generate(f"question {i}") for i in range(3)]
        well_sent = [record.model for record in well.request_log()]
    assert well_sent == ["m"] * 3, well_sent
    for result in results:
        [component] = result.trace.layers[0].components
        assert _fallbacks(component) == [] and component.calls[0].error is None


def test_the_breaker_keeps_a_circuit_per_endpoint() -> None:
    circuits = CircuitBreakers(clock=FakeClock())
    request = chat_request("vLLM", model="m")
    settings: dict[str, Any] = {"threshold": 2, "open_s": 30.0}
    for _ in range(2):
        circuits.failed(request, ProviderTimeoutError("slow"), endpoint="http://a/v1", **settings)
    with pytest.raises(CircuitOpenError, match=r"its circuit at http://a/v1 is open"):
        circuits.before_attempt(request, threshold=2, endpoint="http://a/v1")
    circuits.before_attempt(request, threshold=2, endpoint="http://b/v1")  # not refused
    assert circuits.reopens_in(("vLLM", "http://b/v1", "m")) is None
    assert circuits.reopens_in(("vLLM", "http://a/v1", "m")) == 30.0
    assert circuits.open_models() == [("vLLM", "http://a/v1", "m")]
