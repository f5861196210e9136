"""Call-path figures (issue 12): cache-hit CPU, a fully cached batch rerun, requests a prompt.

    .venv/bin/python bench/callpath_bench.py [--prompts 1000] [--latency-ms 20]

Everything runs against the in-process simulated provider; the figures are printed as a
Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import anyio

from archon_async import CallPath, ChatRequest, Engine, ResponseCache
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from archon_async._defaults import DEFAULT_ARCHITECTURE
from archon_async.simulate import SimulatedServer, SimulationSettings


async def cache_hit_cpu_us(cache: ResponseCache, server: SimulatedServer, hits: int) -> float:
    request = ChatRequest(
        model="m", model_type="OpenAI_API", messages=[{"role": "user", "content": "q"}]
    )
    async with CallPath(simulate=str(server.base_url), cache=cache) as calls:
        await calls.complete(request, sample=0)  # the one miss
        if cache.path is not None:
            await anyio.to_thread.run_sync(cache.flush)
        started = time.process_time()
        for _ in range(hits):
            await calls.complete(request, sample=0)
        return (time.process_time() - started) / hits * 1e6


async def batch_twice(server: SimulatedServer, prompts: int, cache: Path) -> dict[str, float]:
    items = [
        BatchItem(id=f"q{i}", messages=[{"role": "user", "content": f"question {i}"}])
        for i in range(prompts)
    ]
    figures: dict[str, float] = {}
    for run in ("first", "rerun"):
        before = server.stats().requests
        engine = Engine(DEFAULT_ARCHITECTURE, simulate=str(server.base_url), cache=cache)
        out = cache.with_name(f"{run}.jsonl")
        started = time.perf_counter()
        stats = await run_batch(engine, items, out, total=prompts, progress=io.StringIO())
        figures[f"{run}_s"] = time.perf_counter() - started
        figures[f"{run}_requests"] = server.stats().requests - before
        figures[f"{run}_calls"] = stats.calls
        figures[f"{run}_hits"] = stats.cache_hits
    return figures


async def main(prompts: int, latency_ms: float) -> None:
    settings = SimulationSettings(latency_s=latency_ms / 1000)
    async with SimulatedServer(settings) as server:
        with tempfile.TemporaryDirectory() as folder:
            memory = await cache_hit_cpu_us(ResponseCache(), server, 5000)
            disk_cache = ResponseCache(Path(folder) / "hits.sqlite")
            disk = await cache_hit_cpu_us(disk_cache, server, 5000)
            disk_cache.close()
            twice = await batch_twice(server, prompts, Path(folder) / "batch.sqlite")
    print("| measure | value |")
    print("| --- | --- |")
    print(f"| cache hit, memory: client CPU per call | {memory:.0f} us |")
    print(f"| cache hit, SQLite file: client CPU per call | {disk:.0f} us |")
    print(
        f"| batch of {prompts} prompts, default architecture, first run | "
        f"{twice['first_s']:.2f} s, {twice['first_requests']:.0f} requests, "
        f"{twice['first_calls']:.0f} calls ({twice['first_requests'] / prompts:.1f} requests "
        "a prompt) |"
    )
    print(
        f"| the same batch again on the cache | {twice['rerun_s']:.2f} s, "
        f"{twice['rerun_requests']:.0f} requests, {twice['rerun_hits']:.0f} cache hits |"
    )
    print(f"| speed-up of the cached rerun | {twice['first_s'] / twice['rerun_s']:.1f}x |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    options = parser.parse_args()
    anyio.run(main, options.prompts, options.latency_ms)
