"""A fallback model that refuses ``n`` while drawing a component's samples: its refused
request was sent (and charged), so the trace keeps it, as it keeps the primary's."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_async import Budget, Engine
from archon_async.simulate import ModelSettings, SimulatedServer, SimulationSettings


@pytest.mark.parametrize("cached", [False, True], ids=["no-cache", "cache"])
async def test_the_fallbacks_request_refused_for_n_is_in_the_trace(
    tmp_path: Path, cached: bool
) -> None:
    settings = SimulationSettings(
        request_log=100,
        models={
            "small-8k": ModelSettings(context_window=300),
            "big-128k": ModelSettings(max_n=1),
        },
    )
    spec = {"type": "generator", "model": "small-8k", "model_type": "OpenAI_API",
            "max_tokens": 32, "samples": 3,
            "fallbacks": {"context_window": ["big-128k"]}}  # fmt: skip
    async with SimulatedServer(settings) as server:
        budget = Budget()
        config = {"layers": [[spec]]}
        cache = tmp_path / "cache.sqlite" if cached else None
        url = str(server.base_url)
        async with Engine(config, simulate=url, budget=budget, cache=cache) as engine:
            result = await engine.generate("a long question " * 100)
        sent = [(record.n, record.status) for record in server.request_log()]
    assert len(result.candidates) == 3
    # small-8k's n=3 refused (context), big-128k's n=3 refused (n), then 3 single samples.
    assert sent == [(3, 400), (3, 400), (1, 200), (1, 200), (1, 200)]
    [component] = result.trace.layers[0].components
    calls = [(call.model, call.error is not None) for call in component.calls]
    assert sorted(calls) == sorted(
        [("small-8k", True), ("big-128k", True)] + [("big-128k", False)] * 3
    )
    [refused] = [call for call in component.calls if call.model == "big-128k" and call.error]
    assert "'n'" in (refused.error or "")
    assert result.trace.totals()["calls"] == len(sent)
    assert budget.spent().calls == len(sent)
