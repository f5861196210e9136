"""``--estimate`` against a provider that refuses ``n``: the high end holds what such a run
sends (every sample a request of its own, and the refused probe) while the refusal is not
known; once the cache file records it, the expected figures are what the run sends. Before,
the high end counted requests of ``n`` (42 requests and 90 calls for a batch that sent 91
of each)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import orjson

from archon_async import Architecture
from archon_async._defaults import DEFAULT_ARCHITECTURE
from archon_async.callpath._estimate import estimate
from archon_async.simulate import ModelSettings, SimulatedServer, SimulationSettings
from tests.cli_process import expect_status, run_cli
from tests.conftest import summary_of

_PROMPTS = 3
_GENERATOR_MODELS = 2  # the default architecture's two generators, 5 samples each


def _refusing_n() -> SimulationSettings:
    models = {spec["model"] for layer in DEFAULT_ARCHITECTURE["layers"] for spec in layer}
    return SimulationSettings(
        models={model: ModelSettings(max_n=1) for model in models}, request_log=10_000
    )


def _prompts(path: Path, first: int) -> Path:
    ids = range(first, first + _PROMPTS)
    lines = (orjson.dumps({"id": i, "prompt": f"What is {i} * 23?"}) for i in ids)
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


async def _cli(*args: str) -> Any:
    done = await anyio.to_thread.run_sync(lambda: run_cli(*args))
    return expect_status(done)


async def test_the_estimate_holds_a_run_on_a_provider_refusing_n(tmp_path: Path) -> None:
    cache = ["--cache", str(tmp_path / "cache.sqlite")]
    async with SimulatedServer(_refusing_n()) as server:
        simulated = ["--simulate-url", str(server.base_url)]
        first = ["batch", "--input", str(_prompts(tmp_path / "a.jsonl", 0))]
        first += ["--output", str(tmp_path / "a.out.jsonl"), *simulated, *cache]
        foreseen = orjson.loads((await _cli(*first, "--estimate")).stdout)
        summary = summary_of(await _cli(*first))
        refused = sum(record.status == 400 for record in server.request_log())
        # Not known yet: the run sent 12 requests a prompt and the 2 refused probes.
        assert summary["answered"] == _PROMPTS and refused == _GENERATOR_MODELS
        assert summary["requests"] == summary["calls"] == 12 * _PROMPTS + _GENERATOR_MODELS
        low, high = foreseen["requests"]
        assert low == 4 * _PROMPTS  # n taken: 4 a prompt
        assert high == 15 * _PROMPTS + _GENERATOR_MODELS >= summary["requests"]
        assert foreseen["calls"] == [12 * _PROMPTS, 15 * _PROMPTS + _GENERATOR_MODELS]

        # The cache file recorded the refusals: new prompts on it are foreseen one a sample.
        second = ["batch", "--input", str(_prompts(tmp_path / "b.jsonl", _PROMPTS))]
        second += ["--output", str(tmp_path / "b.out.jsonl"), *simulated, *cache]
        known = orjson.loads((await _cli(*second, "--estimate")).stdout)
        sent_before = len(server.request_log())
        summary = summary_of(await _cli(*second))
        sent = server.request_log()[sent_before:]
    assert all(record.status == 200 and record.n in (None, 1) for record in sent)  # no probe
    assert summary["requests"] == summary["calls"] == 12 * _PROMPTS == len(sent)
    assert known["requests"] == [12 * _PROMPTS, 15 * _PROMPTS]
    assert known["central"]["requests"] == summary["requests"]
    assert known["calls"] == [12 * _PROMPTS, 15 * _PROMPTS]


def test_a_known_refusal_that_states_its_most_sizes_the_requests_at_every_end() -> None:
    spec = {"type": "generator", "model": "m", "model_type": "OpenAI_API", "samples": 7}
    architecture = Architecture.from_dict({"name": "seven", "layers": [[spec]]})
    figures = estimate(architecture, ["q"], refusals={("OpenAI_API", "m"): 3}).to_dict()
    assert figures["requests"] == [3, 3]  # 3 + 2 + 2, as the call path sends them
    assert figures["calls"] == [7, 7]  # nothing to probe: the refusal is known
    unknown = estimate(architecture, ["q"]).to_dict()
    assert unknown["requests"] == [1, 7 + 1] and unknown["calls"] == [7, 7 + 1]
    # Another model's refusal says nothing of this one.
    other = estimate(architecture, ["q"], refusals={("OpenAI_API", "other"): 1}).to_dict()
    assert other["requests"] == unknown["requests"]
