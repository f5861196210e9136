"""Configs the real APIs would refuse are refused by the simulated provider, through Engine,
and the same configs as the adapters send them are served."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from archon_async import Architecture, BadRequestError, ConfigWarning, Engine
from archon_async.simulate import SimulatedServer
from tests.integration.helpers import only_leaf

CLAUDE_CONFIG = "archon-claude-3-5-sonnet-sample_10_then_critic_then_fuse.json"


def load(config: Any) -> Architecture:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        if isinstance(config, str):
            return Architecture.from_name(f"archon/{config}")
        return Architecture.from_dict(config)


async def test_a_published_claude_config_is_served_clamped_and_refused_unclamped() -> None:
    async with SimulatedServer() as server:
        async with Engine(load(CLAUDE_CONFIG), simulate=server.base_url) as engine:
            result = await engine.generate("What is 17 * 23?")
        assert result.trace.totals()["failed_calls"] == 0
        assert server.stats().bad_requests == 0

        # The same config with the clamp lifted asks for what the API refuses: the refusal
        # states the limit, and the adapter sends each refused call again at that limit.
        data = load(CLAUDE_CONFIG).to_dict()
        data["providers"] = {
            "Anthropic_API": {"max_output_tokens": {"claude-3-5-sonnet-20240620": 200000}}
        }
        server.reset_stats()
        async with Engine(load(data), simulate=server.base_url) as engine:
            result = await engine.generate("What is 17 * 23?")
        assert result.trace.totals()["failed_calls"] == 0
        refused = server.stats().bad_requests
        assert 1 <= refused <= 10  # the first layer's ten samples go out together


async def test_a_reasoning_model_given_a_temperature_by_hand_is_refused() -> None:
    component = {
        "type": "generator",
        "model": "o1",
        "model_type": "OpenAI_API",
        "temperature": 0.3,  # dropped by the adapter: served
        "max_tokens": 64,
    }
    async with SimulatedServer() as server:
        config = {"name": "o1", "layers": [[component]]}
        async with Engine(load(config), simulate=server.base_url) as engine:
            assert (await engine.generate("Hi?")).text

        forced = {**component, "extra_body": {"temperature": 0.3}}  # sent as it is
        async with Engine(
            load({"name": "o1", "layers": [[forced]]}), simulate=server.base_url
        ) as engine:
            with pytest.raises(Exception) as caught:
                await engine.generate("Hi?")
        error = only_leaf(caught.value)
        assert isinstance(error, BadRequestError)
        assert "'temperature' does not support 0.3 with this model" in str(error)
        assert error.call_record is not None and error.call_record.retries == 0  # a 400: no retry
