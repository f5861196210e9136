"""Requests a batch sends to a server that refuses ``n`` (issue 12, item 5: the probe).

A batch of the default architecture, every component on one model that the simulated
server refuses ``n`` for (400, "'n' : number must be at most 1"), at the batch's default
concurrency: prints the requests the server got, those asking ``n`` > 1 (all refused but
the ones the call path needed to learn it), and the batch's ``requests``. Run::

    .venv/bin/python -m bench.n_probe --prompts 64
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import tempfile
from pathlib import Path

from archon_async import Architecture, Engine
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from archon_async._defaults import DEFAULT_ARCHITECTURE
from archon_async.simulate import ModelSettings, SimulatedServer, SimulationSettings


async def measure(prompts: int, latency_s: float) -> dict[str, int]:
    settings = SimulationSettings(
        request_log=100_000, latency_s=latency_s, models={"m": ModelSettings(max_n=1)}
    )
    architecture = Architecture.from_dict(DEFAULT_ARCHITECTURE)
    items = [
        BatchItem(id=f"q{i}", messages=[{"role": "user", "content": f"What is {i} * 7?"}])
        for i in range(prompts)
    ]
    async with SimulatedServer(settings) as server:
        engine = Engine(
            architecture.with_overrides(model="m", model_type="OpenAI_API"),
            simulate=server.base_url,
        )
        with tempfile.TemporaryDirectory() as folder:
            stats = await run_batch(
                engine, items, Path(folder) / "out.jsonl", total=prompts, progress=io.StringIO()
            )
        asked = [record.n for record in server.request_log()]
    summary = stats.summary()
    return {
        "prompts": prompts,
        "answered": summary["answered"],
        "requests_sent": len(asked),
        "asking_n": sum(n > 1 for n in asked),
        "batch_requests": summary["requests"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.prompts, args.latency_ms / 1000))))


if __name__ == "__main__":
    main()
