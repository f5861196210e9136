"""A batch against a provider that is down, over real HTTP (the simulator): its prompts are
held while the model's circuit is open, not written as failures; the batch goes on when the
provider comes back, and stops, saying so, when it stays down (the rerun answers the rest).
It used to write a `CircuitOpenError` line for every remaining prompt within seconds."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from archon_async import BatchStoppedError, Engine, InvalidInputError
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from archon_async.simulate import ModelSettings, SimulatedServer, SimulationSettings
from tests.integration.helpers import generator

#: The circuit opens after 2 failures in a row and lets a trial through every 0.2 s.
PROVIDER = {"max_retries": 0, "timeout_s": 5, "circuit_failures": 2, "circuit_open_s": 0.2}


def _engine(server: SimulatedServer) -> Engine:
    return Engine(
        generator(model="m"),
        keys={"OPENAI_API_KEY": ["sk-a"]},
        providers={"OpenAI_API": {"base_url": server.openai_base_url, **PROVIDER}},
    )


def _items(count: int) -> list[BatchItem]:
    return [
        BatchItem(id=f"q{i}", messages=[{"role": "user", "content": f"question {i}"}])
        for i in range(count)
    ]


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _down(**settings: Any) -> SimulationSettings:
    return SimulationSettings(
        models={"m": ModelSettings(fault_rate=1.0)}, faults=["5xx"], request_log=1000, **settings
    )


async def test_a_provider_down_for_good_stops_the_batch_and_writes_no_failure(
    tmp_path: Path,
) -> None:
    out = tmp_path / "answers.jsonl"
    async with SimulatedServer(_down()) as sick:
        port = sick.port
        with pytest.raises(BatchStoppedError) as stopped:
            await run_batch(
                _engine(sick), _items(30), out, total=30, concurrency=3,
                show_progress=False, provider_down_wait_s=1.0,
            )  # fmt: skip
        sent = len(sick.request_log())
    error = stopped.value
    # Named with its endpoint: another server of the model_type has a circuit of its own.
    at = f"the provider of OpenAI_API m at {sick.openai_base_url} is down"
    assert at in str(error), error
    assert "run the same command again" in str(error)
    # Nothing written: no prompt failed for its own sake, so none is an error line.
    assert _lines(out) == []
    assert error.not_started == 30 and error.stats.failed == 0
    # The first failures that opened the circuit, then one trial call per 0.2 s for about
    # a second; not a request per prompt.
    assert 2 <= sent <= 12, sent

    # The provider is back: the same output goes on and answers every prompt.
    async with SimulatedServer(SimulationSettings(port=port)) as well:
        stats = await run_batch(
            _engine(well), _items(30), out, total=30, concurrency=3, show_progress=False
        )
    assert stats.answered == 30 and stats.failed == 0
    assert sorted(line["id"] for line in _lines(out)) == sorted(f"q{i}" for i in range(30))
    assert all("error" not in line for line in _lines(out))


async def test_a_provider_that_comes_back_is_waited_for_and_the_batch_finishes(
    tmp_path: Path,
) -> None:
    out = tmp_path / "answers.jsonl"
    sick = SimulatedServer(_down())
    await sick.start()
    port = sick.port
    engine = _engine(sick)
    probes: list[int] = []

    async def come_back() -> SimulatedServer:
        # Down long enough for the circuit to open and a few trials to fail.
        await asyncio.sleep(0.8)
        probes.append(len(sick.request_log()))
        await sick.aclose()
        well = SimulatedServer(SimulationSettings(port=port))
        await well.start()
        return well

    back = asyncio.create_task(come_back())
    try:
        stats = await run_batch(
            engine, _items(20), out, total=20, concurrency=4, show_progress=False,
            provider_down_wait_s=30.0,
        )  # fmt: skip
    finally:
        well = await back
        await well.aclose()
    lines = _lines(out)
    assert stats.answered == 20 and stats.failed == 0
    assert len(lines) == 20 and all("error" not in line for line in lines), lines
    # While it was down, the batch sent its trials, not every prompt's calls.
    assert probes[0] <= 12, probes


async def test_held_prompts_wait_no_longer_than_the_probe_once_the_batch_stopped() -> None:
    # A batch stopped for another reason (a budget) while its provider is down: each held
    # prompt took its turn as the probe, a circuit's open time each (30 s by default).
    from archon_async._batch_outage import ProviderOutage

    stopped = False
    outage = ProviderOutage(lambda circuit: 0.05, 600.0, stopped=lambda: stopped)
    outage.noticed(("OpenAI_API", "http://127.0.0.1:9/v1", "m"))
    first = asyncio.create_task(outage.wait())
    held = [asyncio.create_task(outage.wait()) for _ in range(5)]
    assert await first == "probe"
    stopped = True
    outage.probe_ended()  # the probe's prompt ended: the model still down
    async with asyncio.timeout(1):
        assert await asyncio.gather(*held) == ["stop"] * 5


async def test_engine_batch_takes_the_wait_and_refuses_a_bad_one(tmp_path: Path) -> None:
    async with SimulatedServer(_down()) as sick:
        engine = _engine(sick)
        with pytest.raises(InvalidInputError, match="provider_down_wait_s must be"):
            engine.batch(_items(3), output=tmp_path / "a.jsonl", provider_down_wait_s=-1)
        lines = engine.batch(
            _items(12), output=tmp_path / "a.jsonl", concurrency=2, provider_down_wait_s=0.5
        )
        with pytest.raises(BatchStoppedError) as stopped:
            async for _ in lines:
                pytest.fail("no line is written for a prompt held for a provider that is down")
    assert stopped.value.provider_down == "OpenAI_API m"
