"""Call-path figures (issue 12): cache-hit CPU, a fully cached batch rerun, requests a prompt.

    .venv/bin/python bench/callpath_bench.py [--prompts 1000] [--latency-ms 20] [--runs 3]
        [--process-latencies-ms 20,200,1000] [--no-in-process]

Each of ``--runs`` runs answers the batch twice on a new cache file (first run, then the
fully cached rerun, each with a new engine and so a new call path and cache object: the
rerun reads the file); the table gives medians, and this process's CPU seconds beside the
wall ones. The rerun must send nothing: the bench stops with an error if the server saw a
request during it.

Two places for the simulated provider:

* in this process (``--latency-ms``; the default): the first run's CPU includes the
  server's, which shares the client's core;
* in a process of its own, over HTTP (``python -m archon_async.simulate --latency-ms L``),
  once per latency of ``--process-latencies-ms``: how a reviewer checks it, a batch run
  twice on one cache against a separate server; the CPU column is the client's alone.

The load average is printed before and after: on a shared machine wall times are loaded
ones.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from subprocess import PIPE

import anyio

from archon_async import CallPath, ChatRequest, Engine, ResponseCache
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from archon_async._defaults import DEFAULT_ARCHITECTURE
from archon_async.simulate import SimulatedServer, SimulationSettings

#: How a bench reads the number of requests its server has received so far.
RequestCount = Callable[[], Awaitable[int]]


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


async def batch_twice(
    url: str, requests: RequestCount, prompts: int, cache: Path
) -> dict[str, float]:
    """The batch on a new cache, then again on it; figures of both runs and their ratio.

    Raises:
        SystemExit: the rerun sent a request (the cache did not answer everything).
    """
    items = [
        BatchItem(id=f"q{i}", messages=[{"role": "user", "content": f"question {i}"}])
        for i in range(prompts)
    ]
    figures: dict[str, float] = {}
    for run in ("first", "rerun"):
        before = await requests()
        engine = Engine(DEFAULT_ARCHITECTURE, simulate=url, cache=cache)
        out = cache.with_name(f"{cache.stem}-{run}.jsonl")
        started, cpu = time.perf_counter(), time.process_time()
        stats = await run_batch(engine, items, out, total=prompts, progress=io.StringIO())
        figures[f"{run}_s"] = time.perf_counter() - started
        figures[f"{run}_cpu_s"] = time.process_time() - cpu
        figures[f"{run}_requests"] = await requests() - before
        figures[f"{run}_calls"] = stats.calls
        figures[f"{run}_hits"] = stats.cache_hits
    if figures["rerun_requests"] or figures["rerun_calls"]:
        raise SystemExit(
            f"the cached rerun sent {figures['rerun_requests']:.0f} requests "
            f"({figures['rerun_calls']:.0f} calls): it must send none"
        )
    first = [json.loads(line) for line in out.with_name(f"{cache.stem}-first.jsonl").open()]
    again = [json.loads(line) for line in out.open()]
    if {a["id"]: a["answer"] for a in first} != {a["id"]: a["answer"] for a in again}:
        raise SystemExit("the cached rerun's answers differ from the first run's")
    figures["ratio"] = figures["first_s"] / figures["rerun_s"]
    return figures


@asynccontextmanager
async def simulator_process(latency_ms: float) -> AsyncIterator[str]:
    """``python -m archon_async.simulate`` on a free port; yields its URL."""
    command = [sys.executable, "-m", "archon_async.simulate", "--port", "0"]
    command += ["--latency-ms", str(latency_ms)]
    process = await anyio.open_process(command, stdout=PIPE)
    try:
        assert process.stdout is not None
        said = b""
        with anyio.fail_after(60):
            while not said.endswith(b"\n"):
                said += await process.stdout.receive()
        # "simulated provider listening on http://127.0.0.1:PORT"
        yield said.decode().split()[-1]
    finally:
        process.terminate()
        await process.wait()


def _http_requests(url: str) -> RequestCount:
    """The request count of a simulator in another process (its GET /stats)."""

    def read() -> int:
        with urllib.request.urlopen(f"{url.rstrip('/')}/stats", timeout=30) as reply:
            return int(json.load(reply)["requests"])

    async def count() -> int:
        return await anyio.to_thread.run_sync(read)

    return count


def _row(label: str, each: list[dict[str, float]], prompts: int) -> list[str]:
    def median(name: str) -> float:
        return statistics.median(figures[name] for figures in each)

    ratios = ", ".join(f"{figures['ratio']:.1f}x" for figures in each)
    return [
        f"| {label}: first run (median) | {median('first_s'):.2f} s "
        f"({median('first_cpu_s'):.2f} s CPU), {median('first_requests'):.0f} requests "
        f"({median('first_requests') / prompts:.1f} a prompt), "
        f"{median('first_calls'):.0f} calls |",
        f"| {label}: the same batch again on the cache (median) | {median('rerun_s'):.2f} s "
        f"({median('rerun_cpu_s'):.2f} s CPU), {median('rerun_requests'):.0f} requests, "
        f"{median('rerun_hits'):.0f} cache hits |",
        f"| {label}: speed-up of the cached rerun (median; each run) | "
        f"{median('ratio'):.1f}x ({ratios}) |",
    ]


async def in_process(prompts: int, latency_ms: float, runs: int, folder: Path) -> list[str]:
    settings = SimulationSettings(latency_s=latency_ms / 1000)
    async with SimulatedServer(settings) as server:
        memory = await cache_hit_cpu_us(ResponseCache(), server, 5000)
        disk_cache = ResponseCache(folder / "hits.sqlite")
        disk = await cache_hit_cpu_us(disk_cache, server, 5000)
        disk_cache.close()
        ahead_cache = ResponseCache(folder / "ahead.sqlite")
        ahead = await cache_hit_cpu_us(ahead_cache, server, 5000, ahead=True)
        ahead_cache.close()

        async def requests() -> int:
            return server.stats().requests

        url = str(server.base_url)
        each = [
            await batch_twice(url, requests, prompts, folder / f"in{run}.sqlite")
            for run in range(runs)
        ]
    return [
        f"| cache hit, memory: client CPU per call | {memory:.0f} us |",
        f"| cache hit, SQLite file: client CPU per call | {disk:.0f} us |",
        f"| cache hit, SQLite file read ahead: client CPU per call | {ahead:.0f} us |",
        *_row(f"in-process simulator, {latency_ms:g} ms", each, prompts),
    ]


async def in_another_process(prompts: int, latency_ms: float, runs: int, folder: Path) -> list[str]:
    async with simulator_process(latency_ms) as url:
        each = [
            await batch_twice(
                url, _http_requests(url), prompts, folder / f"p{latency_ms:g}-{run}.sqlite"
            )
            for run in range(runs)
        ]
    return _row(f"simulator in another process, {latency_ms:g} ms", each, prompts)


async def main(options: argparse.Namespace) -> None:
    load_before = os.getloadavg()
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if options.in_process:
            rows += await in_process(options.prompts, options.latency_ms, options.runs, folder)
        for latency in options.process_latencies_ms:
            rows += await in_another_process(options.prompts, latency, options.runs, folder)
    load_after = os.getloadavg()
    print(
        f"load average before: {load_before[0]:.1f}, after: {load_after[0]:.1f} "
        f"({options.runs} runs each)"
    )
    print("| measure | value |")
    print("| --- | --- |")
    print("\n".join(rows))


def _latencies(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="in-process simulator")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--process-latencies-ms",
        type=_latencies,
        default=[],
        help="also run against a simulator in another process, at each of these latencies "
        "(comma-separated, e.g. 20,200,1000)",
    )
    parser.add_argument(
        "--no-in-process",
        dest="in_process",
        action="store_false",
        help="skip the in-process figures",
    )
    anyio.run(main, parser.parse_args())
