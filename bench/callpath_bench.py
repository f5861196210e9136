"""Call-path figures (issue 12): cache-hit CPU, a fully cached batch rerun, requests a prompt.

    .venv/bin/python bench/callpath_bench.py [--prompts 1000] [--latency-ms 20] [--runs 3]

Everything runs against the in-process simulated provider; the figures are printed as a
Markdown table for bench/RESULTS.md. Each of ``--runs`` runs answers the batch twice on a
new cache file (first run, then the fully cached rerun, each with a new engine and so a new
call path and cache object: the rerun reads the file); the table gives medians, and the
process's CPU seconds beside the wall ones (the simulator runs in this process too, so the
first run's CPU includes the server's). The load average is printed before and after: on a
shared machine wall times are loaded ones.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

import anyio

from archon_async import CallPath, ChatRequest, Engine, ResponseCache
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from archon_async._defaults import DEFAULT_ARCHITECTURE
from archon_async.simulate import SimulatedServer, SimulationSettings


async def cache_hit_cpu_us(
    cache: ResponseCache, server: SimulatedServer, hits: int, *, ahead: bool = False
) -> float:
    request = ChatRequest(
        model="m", model_type="OpenAI_API", messages=[{"role": "user", "content": "q"}]
    )
    async with CallPath(simulate=str(server.base_url), cache=cache) as calls:
        await calls.complete(request, sample=0)  # the one miss
        if cache.path is not None:
            await anyio.to_thread.run_sync(cache.flush)
            if ahead:
                await anyio.to_thread.run_sync(cache.read_ahead)
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
        out = cache.with_name(f"{cache.stem}-{run}.jsonl")
        started, cpu = time.perf_counter(), time.process_time()
        stats = await run_batch(engine, items, out, total=prompts, progress=io.StringIO())
        figures[f"{run}_s"] = time.perf_counter() - started
        figures[f"{run}_cpu_s"] = time.process_time() - cpu
        figures[f"{run}_requests"] = server.stats().requests - before
        figures[f"{run}_calls"] = stats.calls
        figures[f"{run}_hits"] = stats.cache_hits
    figures["ratio"] = figures["first_s"] / figures["rerun_s"]
    return figures


async def main(prompts: int, latency_ms: float, runs: int) -> None:
    load_before = os.getloadavg()
    settings = SimulationSettings(latency_s=latency_ms / 1000)
    async with SimulatedServer(settings) as server:
        with tempfile.TemporaryDirectory() as folder:
            memory = await cache_hit_cpu_us(ResponseCache(), server, 5000)
            disk_cache = ResponseCache(Path(folder) / "hits.sqlite")
            disk = await cache_hit_cpu_us(disk_cache, server, 5000)
            disk_cache.close()
            ahead_cache = ResponseCache(Path(folder) / "ahead.sqlite")
            ahead = await cache_hit_cpu_us(ahead_cache, server, 5000, ahead=True)
            ahead_cache.close()
            each = [
                await batch_twice(server, prompts, Path(folder) / f"batch{run}.sqlite")
                for run in range(runs)
            ]
    load_after = os.getloadavg()

    def median(name: str) -> float:
        return statistics.median(figures[name] for figures in each)

    ratios = ", ".join(f"{figures['ratio']:.1f}x" for figures in each)
    print(f"load average before: {load_before[0]:.1f}, after: {load_after[0]:.1f} ({runs} runs)")
    print("| measure | value |")
    print("| --- | --- |")
    print(f"| cache hit, memory: client CPU per call | {memory:.0f} us |")
    print(f"| cache hit, SQLite file: client CPU per call | {disk:.0f} us |")
    print(f"| cache hit, SQLite file read ahead: client CPU per call | {ahead:.0f} us |")
    print(
        f"| batch of {prompts} prompts, default architecture, first run (median) | "
        f"{median('first_s'):.2f} s ({median('first_cpu_s'):.2f} s CPU), "
        f"{median('first_requests'):.0f} requests, {median('first_calls'):.0f} calls "
        f"({median('first_requests') / prompts:.1f} requests a prompt) |"
    )
    print(
        f"| the same batch again on the cache (median) | {median('rerun_s'):.2f} s "
        f"({median('rerun_cpu_s'):.2f} s CPU), {median('rerun_requests'):.0f} requests, "
        f"{median('rerun_hits'):.0f} cache hits |"
    )
    print(
        f"| speed-up of the cached rerun (median; each run) | {median('ratio'):.1f}x ({ratios}) |"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    anyio.run(main, options.prompts, options.latency_ms, options.runs)
