"""Retries and timeouts show on each answer line and in the batch summary."""

from __future__ import annotations

import io
from pathlib import Path

import orjson

from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from archon_async.simulate import SimulatedServer, SimulationSettings
from tests.integration.helpers import SINGLE, engine_on


async def test_timeouts_and_retries_are_counted_per_line_and_in_the_summary(
    tmp_path: Path,
) -> None:
    settings = SimulationSettings(fault_rate=0.4, faults=["timeout"], timeout_fault_s=3.0, seed=5)
    async with SimulatedServer(settings) as server:
        # No circuit breaker: every timeout is retried here.
        engine = engine_on(
            server, ["sk-one"], architecture=SINGLE, timeout_s=0.3, circuit_failures=0
        )
        items = [
            BatchItem(id=f"q{i}", messages=[{"role": "user", "content": f"Q{i}?"}])
            for i in range(12)
        ]
        out = tmp_path / "answers.jsonl"
        stats = await run_batch(
            engine, items, out, total=12, concurrency=12, progress=io.StringIO()
        )
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    timeouts = sum(line.get("timeouts", 0) for line in lines)
    retries = sum(line.get("retries", 0) for line in lines)
    assert timeouts > 0  # at a 40% fault rate, some of the 12 calls timed out
    assert retries > 0  # timed-out attempts were resent
    summary = stats.summary()
    assert (summary["timeouts"], summary["retries"]) == (timeouts, retries)
    assert f"{retries} retries ({timeouts} timeouts)" in stats.rates()
    quiet = [line for line in lines if "timeouts" not in line]
    assert all("retries" not in line for line in quiet)  # only lines that had some
