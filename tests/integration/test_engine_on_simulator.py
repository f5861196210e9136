"""The engine against the simulated provider over real loopback HTTP: faults, keys, PairRM."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from structlog.testing import capture_logs

from archon_async import Architecture, ConfigError, ConfigWarning, Engine
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from archon_async.simulate import KeySettings, SimulatedServer, SimulationSettings
from tests.conftest import ARCHON_CONFIGS
from tests.integration.helpers import SINGLE, engine_on, only_leaf


async def test_a_batch_under_injected_faults_loses_nothing(tmp_path: Path) -> None:
    settings = SimulationSettings(
        fault_rate=0.3,
        faults=["5xx", "reset", "malformed", "empty", "timeout"],
        timeout_fault_s=3.0,
        seed=11,
    )
    async with SimulatedServer(settings) as server:
        # No circuit breaker: on a loaded machine the simulator can stay silent for a whole
        # 0.5 s timeout, and this test is about retries losing nothing.
        engine = engine_on(
            server, ["sk-one"], architecture=SINGLE, timeout_s=0.5, circuit_failures=0
        )
        items = [
            BatchItem(id=f"f{i}", messages=[{"role": "user", "content": f"Q{i}?"}])
            for i in range(40)
        ]
        out = tmp_path / "answers.jsonl"
        stats = await run_batch(
            engine, items, out, total=40, concurrency=10, progress=io.StringIO()
        )
        async with httpx.AsyncClient() as client:
            served = (await client.get(f"{server.base_url}/stats")).json()
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert sorted(line["id"] for line in lines) == sorted(item.id for item in items)
    assert stats.answered + stats.failed == 40
    assert stats.answered >= 36  # five attempts per call at a 30% fault rate
    assert all(line.get("answer") or line.get("error") for line in lines)
    assert _count(served, "faults") > 0  # faults were really injected, and survived


def _count(stats: dict[str, Any], key: str) -> int:
    value = stats.get(key, 0)
    return sum(value.values()) if isinstance(value, dict) else int(value)


async def test_keys_never_reach_logs_and_are_sent_only_as_auth() -> None:
    secret = "sk-live-VERY-SECRET-123456"
    async with SimulatedServer(SimulationSettings(require_key=True)) as server:
        with capture_logs() as logs:
            async with engine_on(server, [secret], architecture=SINGLE) as engine:
                result = await engine.generate("hello?")
                text = repr(engine) + repr(engine.dispatcher)
    assert result.text
    assert secret not in text
    assert all(secret not in repr(entry) for entry in logs)
    assert secret not in repr(result.trace.to_dict())


async def test_a_missing_key_is_a_clear_error() -> None:
    async with SimulatedServer(SimulationSettings(require_key=True)) as server:
        # Checked when the engine is built, or at the first call: either names the variable.
        with pytest.raises((ConfigError, ExceptionGroup)) as info:
            async with engine_on(server, [], architecture=SINGLE) as engine:
                await engine.generate("hello?")
    error = info.value if isinstance(info.value, ConfigError) else only_leaf(info.value)
    assert "OPENAI_API_KEY" in str(error)


async def test_a_refused_key_is_a_clear_error_without_the_key() -> None:
    revoked = "sk-revoked-SECRET-0042"
    settings = SimulationSettings(keys={revoked: KeySettings(refuse="invalid")})
    async with SimulatedServer(settings) as server:
        async with engine_on(server, [revoked], architecture=SINGLE) as engine:
            with pytest.raises(ExceptionGroup) as info:
                await engine.generate("hello?")
    error = only_leaf(info.value)
    assert "OPENAI_API_KEY" in str(error) or "OpenAI_API" in str(error)
    assert revoked not in str(error)
    assert server.stats().unauthorized == 1


def test_pairrm_needs_a_scoring_backend_and_says_so_at_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PAIRRM_BASE_URL", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        architecture = Architecture.from_file(
            ARCHON_CONFIGS / "archon-1-110bFuser-PairRM3-6-MoAM.json"
        )
    with pytest.raises(ConfigError) as info:
        Engine(architecture)
    assert info.value.location == "layers[1][0].model"
    assert "scoring backend" in str(info.value)


async def test_pairrm_ranks_with_the_scorer_it_is_given() -> None:
    class LongestFirst:
        def __init__(self) -> None:
            self.calls: list[int] = []

        async def score(self, query: str, candidates: Any) -> list[float]:
            self.calls.append(len(candidates))
            return [float(len(c)) for c in candidates]

    scorer = LongestFirst()
    config = {
        "layers": [
            [{"type": "generator", "model": "a", "model_type": "OpenAI_API", "samples": 4}],
            [{"type": "ranker", "model": "llm-blender/PairRM", "model_type": "", "top_k": 2}],
        ]
    }
    async with SimulatedServer() as server:
        async with Engine(
            config, scorers={"llm-blender/PairRM": scorer}, simulate=server.base_url
        ) as engine:
            result = await engine.generate("Tell me something.")
    assert scorer.calls == [4]
    first = result.trace.layers[0].components[0].outputs["candidates"]
    assert list(result.candidates) == sorted(first, key=len, reverse=True)[:2]
