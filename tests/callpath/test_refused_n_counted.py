"""A request refused for asking ``n`` samples (the provider's 400, after which the samples
go one a request) was sent: the batch summary's calls and requests count it, as the spend
journal (``spent_all_runs``) and the provider's own request log do."""

from __future__ import annotations

from pathlib import Path

import anyio
import orjson
import pytest

from archon_async import Architecture, Engine
from archon_async._defaults import DEFAULT_ARCHITECTURE
from archon_async.simulate import ModelSettings, SimulatedServer, SimulationSettings
from tests.cli_process import expect_status, run_cli
from tests.conftest import summary_of

_PROMPTS = 3


def _refusing_n() -> SimulationSettings:
    """The simulated provider, refusing n > 1 for every model of the default architecture."""
    models = {spec["model"] for layer in DEFAULT_ARCHITECTURE["layers"] for spec in layer}
    return SimulationSettings(
        models={model: ModelSettings(max_n=1) for model in models}, request_log=10_000
    )


@pytest.mark.parametrize("cached", [False, True], ids=["no-cache", "cache"])
async def test_the_batch_summary_counts_the_requests_refused_for_n(
    tmp_path: Path, cached: bool
) -> None:
    prompts = tmp_path / "in.jsonl"
    lines = (orjson.dumps({"id": i, "prompt": f"What is {i} * 23?"}) for i in range(_PROMPTS))
    prompts.write_bytes(b"".join(line + b"\n" for line in lines))
    async with SimulatedServer(_refusing_n()) as server:
        args = ["batch", "--input", str(prompts), "--output", str(tmp_path / "out.jsonl")]
        args += ["--simulate-url", str(server.base_url)]
        if cached:  # the samples then go through the cache's claims (`CachedCalls._send`)
            args += ["--cache", str(tmp_path / "cache.sqlite")]
        done = await anyio.to_thread.run_sync(lambda: run_cli(*args))
        log = server.request_log()
    expect_status(done)
    refused = [record for record in log if record.status == 400]
    assert refused and all(record.n and record.n > 1 for record in refused)
    assert all(record.status == 200 for record in log if record not in refused)
    summary = summary_of(done)
    assert summary["answered"] == _PROMPTS
    # Every request sent is counted: 12 samples a prompt, one a request, plus the refused.
    assert summary["requests"] == len(log) == 12 * _PROMPTS + len(refused)
    assert summary["calls"] == len(log) == summary["spent_all_runs"]["calls"]
    per_model = summary["per_model"].values()
    assert sum(model["calls"] for model in per_model) == len(log)
    lines = [orjson.loads(line) for line in (tmp_path / "out.jsonl").read_bytes().splitlines()]
    assert sum(line["calls"] for line in lines) == len(log)


async def test_the_trace_keeps_the_refused_request_as_a_failed_call() -> None:
    architecture = Architecture.from_dict(DEFAULT_ARCHITECTURE)
    async with Engine(architecture, simulate=_refusing_n()) as engine:
        result = await engine.generate("What is 17 * 23?")
    calls = [call for layer in result.trace.layers for c in layer.components for call in c.calls]
    failed = [call for call in calls if call.error is not None]
    # Both generators asked n=5 and were refused; every sample then went alone.
    assert len(failed) == 2 and all("'n'" in (call.error or "") for call in failed)
    assert all(call.input_tokens == call.output_tokens == 0 for call in failed)
    assert result.trace.totals()["calls"] == 12 + 2
