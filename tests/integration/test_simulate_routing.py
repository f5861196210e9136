"""``simulate=`` sends every call to the simulator, whatever base URL a component names."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import respx

from archon_async import Engine
from archon_async.simulate import SimulatedServer, SimulationSettings


def _generator(model_type: str, base_url: str) -> dict[str, Any]:
    component = {
        "type": "generator",
        "model": "sim-model",
        "model_type": model_type,
        "max_tokens": 32,
        "samples": 2,
        "base_url": base_url,
    }
    return {"name": "routed", "layers": [[component]]}


@pytest.mark.parametrize(
    ("model_type", "real_url"),
    [
        ("OpenAI_API", "https://api.openai.com/v1"),
        ("Anthropic_API", "https://api.anthropic.com"),
        ("Together_API", "https://api.together.xyz/v1"),
    ],
)
async def test_a_component_base_url_is_not_called_when_simulating(
    model_type: str, real_url: str
) -> None:
    config = _generator(model_type, real_url)
    # Everything not routed here fails the test (assert_all_mocked); only loopback passes.
    with respx.mock(using="httpx", assert_all_mocked=True, assert_all_called=False) as router:
        # 401: were the call to leave, it would fail at once instead of retrying.
        outside = router.route(host__regex=r"^(?!127\.0\.0\.1$)").respond(401)
        router.route(host="127.0.0.1").pass_through()
        async with SimulatedServer(SimulationSettings()) as server:
            async with Engine(config, simulate=server.base_url) as engine:
                result = await engine.generate("Say hello.")
            served = server.stats()
    assert not outside.called
    assert len(result.candidates) == 2
    # Two samples: one request with n=2 where the wire takes n (OpenAI's), else two.
    assert served.replies == (2 if model_type == "Anthropic_API" else 1)


async def test_a_component_pointing_at_a_closed_port_is_served_by_the_simulator() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    config = _generator("OpenAI_API", f"http://127.0.0.1:{closed}/v1")
    # No retries: were the call to go to the closed port, it would fail at once.
    providers = {"OpenAI_API": {"max_retries": 0}}
    async with Engine(config, simulate=True, providers=providers) as engine:
        result = await engine.generate("Say hello.")
    assert result.text
