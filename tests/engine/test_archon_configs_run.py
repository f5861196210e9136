"""Every configuration published with Archon runs unchanged, end to end, on the simulated
provider (real HTTP on loopback, every wire format, the PairRM scorer included), which
enforces the providers' documented request rules: a config the real API would refuse (an
Anthropic max_tokens above the model's limit, a reasoning model sent max_tokens, turns out of
order) fails here, even where the engine would carry on without the refused calls."""

from __future__ import annotations

import warnings
from pathlib import Path

from archon_async import Architecture, ConfigWarning, Engine
from archon_async.simulate import SimulatedServer, SimulationSettings

QUESTION = "Write a Python function add(a, b) that returns the sum of a and b. Explain briefly."


async def test_every_published_archon_config_runs_on_the_simulated_provider(
    archon_configs: list[Path],
) -> None:
    settings = SimulationSettings(seed=3, enforce_request_rules=True)
    async with SimulatedServer(settings) as server:
        for path in archon_configs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConfigWarning)
                architecture = Architecture.from_file(path)
            async with Engine(architecture, simulate=server.base_url) as engine:
                result = await engine.generate(QUESTION)
            assert result.text.strip(), path.name
            assert result.text in result.candidates, path.name
            assert len(result.trace.layers) == architecture.depth, path.name
            llm_layers = [
                layer for layer in architecture.layers if any(spec.model_type for spec in layer)
            ]
            assert result.trace.call_count >= len(llm_layers), path.name
            failed = [
                (layer.index, component.index, component.error)
                for layer in result.trace.layers
                for component in layer.components
                if component.error
            ]
            assert failed == [], (path.name, failed)
            # A refused sample or call is dropped and the run goes on: count them apart.
            assert result.trace.totals()["failed_calls"] == 0, path.name
        assert server.stats().bad_requests == 0
