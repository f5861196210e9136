"""A fully cached rerun under a budget: what the batch's budget gate costs it.

A batch's `BudgetGate` admits prompts under ``--max-total-tokens`` / ``--max-cost`` at the
share of the prompts that sent a call; until one has finished, it admits one prompt at a
time, and a rerun answered wholly from the cache sends nothing, so it looked as if such a
rerun ran one prompt at a time to the end. This measures the rerun's wall time and
main-thread CPU, and the most prompts the gate had in flight at once, with no cap, a calls
cap, a tokens cap and a dollars cap (each too large to stop anything), alternated round by
round in one process, on the default architecture against the simulated provider. Run::

    .venv/bin/python bench/cached_budget_admission.py [--prompts 200] [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from archon_async import Architecture, Engine, ResponseCache, _batch_budget
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from archon_async._defaults import DEFAULT_ARCHITECTURE
from archon_async.callpath import Budget
from archon_async.simulate import SimulatedServer, SimulationSettings

VARIANTS = {
    "no cap": lambda: None,
    "max_calls": lambda: Budget(max_calls=10**9),
    "max_tokens": lambda: Budget(max_tokens=10**12),
    "max_cost": lambda: Budget(max_cost_usd=10.0**9),
}


class InFlight:
    """Counts the prompts a batch's budget gate has admitted and not released."""

    def __init__(self) -> None:
        self.now = self.most = 0
        gate = _batch_budget.BudgetGate
        admit, release = gate.admit, gate.release

        async def counted_admit(gate: Any, made: Any, *, runs: int = 1) -> None:
            await admit(gate, made, runs=runs)
            self.now += 1
            self.most = max(self.most, self.now)

        def counted_release(gate: Any, made: Any) -> None:
            if id(made) in gate._in_flight:
                self.now -= 1
            release(gate, made)

        gate.admit, gate.release = counted_admit, counted_release  # type: ignore[method-assign]


IN_FLIGHT = InFlight()


def items(prompts: int) -> list[BatchItem]:
    return [
        BatchItem(id=f"q{i}", messages=[{"role": "user", "content": f"What is {i} * 7?"}])
        for i in range(prompts)
    ]


async def one_run(
    url: str, cache: Path, folder: Path, prompts: int, budget: Budget | None
) -> dict[str, float]:
    architecture = Architecture.from_dict(DEFAULT_ARCHITECTURE)
    engine = Engine(architecture, simulate=url, cache=ResponseCache(cache))
    output = folder / f"out-{time.perf_counter_ns()}.jsonl"
    IN_FLIGHT.most = 0
    async with engine:
        wall, cpu = time.perf_counter(), time.thread_time()
        stats = await run_batch(
            engine, items(prompts), output, total=prompts, progress=io.StringIO(), budget=budget
        )
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    summary = stats.summary()
    assert summary["answered"] == prompts, summary
    return {
        "wall_ms": wall * 1000,
        "cpu_ms": cpu * 1000,
        "requests": summary["requests"],
        "most_in_flight": IN_FLIGHT.most,
    }


async def measure(prompts: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        cache = folder / "cache.sqlite"
        async with SimulatedServer(SimulationSettings(latency_s=0.02)) as server:
            url = str(server.base_url)
            await one_run(url, cache, folder, prompts, None)  # fills the cache
            results: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
            for _ in range(rounds):
                for variant, budget in VARIANTS.items():
                    run = await one_run(url, cache, folder, prompts, budget())
                    assert run["requests"] == 0, run
                    results[variant].append(run)
    table: dict[str, Any] = {}
    base = results["no cap"]
    for variant, runs in results.items():
        table[variant] = {
            "wall_ms_median": round(statistics.median(r["wall_ms"] for r in runs), 1),
            "cpu_ms_median": round(statistics.median(r["cpu_ms"] for r in runs), 1),
            "wall_ratio_to_no_cap": round(
                statistics.median(
                    r["wall_ms"] / b["wall_ms"] for r, b in zip(runs, base, strict=True)
                ),
                3,
            ),
            "cpu_ratio_to_no_cap": round(
                statistics.median(
                    r["cpu_ms"] / b["cpu_ms"] for r, b in zip(runs, base, strict=True)
                ),
                3,
            ),
            "most_in_flight": max(r["most_in_flight"] for r in runs),
        }
    return {"prompts": prompts, "rounds": rounds, "variants": table}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.prompts, args.rounds)), indent=2))


if __name__ == "__main__":
    main()
