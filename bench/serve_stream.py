"""Serving: time to first token through `archon-async serve`, and 1,000 streams at once.

Three processes on loopback: the simulated provider (``python -m archon_async.simulate``,
streaming one word per event), the server (``archon-async serve`` on a single-call
architecture pointed at that simulator), and this client (aiohttp, reading the server-sent
events itself so that both sides are read the same way).

1. TTFT: ``--requests`` streamed requests one after another, alternating between the
   simulator directly and the server, each timed from the request to the first chunk that
   carries text. The server adds its own hop (and the engine's call path) to the
   simulator's own TTFT: the target is within 5 ms.
2. Concurrency: ``--concurrent`` streamed requests at once through the server; every one
   must end with ``[DONE]`` and the text the trace says; the server's resident memory is
   sampled from /proc while they run, and again once they are done.

    .venv/bin/python bench/serve_stream.py [--requests 200] [--concurrent 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, VENV_PYTHON, free_port, get_json

QUESTION = [{"role": "user", "content": "Describe a rainbow in a few words."}]


def _wait_until_up(url: str, what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the {what} exited with {process.returncode}")
        try:
            get_json(url, timeout=1.0)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the {what} did not come up at {url}")


def _config() -> dict[str, Any]:
    """The single-call architecture served."""
    return {
        "name": "one-call",
        "layers": [[{"type": "generator", "model": "sim-model", "model_type": "OpenAI_API",
                     "max_tokens": 256, "samples": 1}]],
        # The provider pool as wide as the load, so that calls queue nowhere.
        "providers": {"OpenAI_API": {"max_concurrency": 2048}},
    }  # fmt: skip


@contextmanager
def processes(latency_ms: float, chunk_ms: float, words: int) -> Iterator[tuple[str, str, int]]:
    """The simulator and the server; yields their roots and the server's pid."""
    sim_port, serve_port = free_port(), free_port()
    sim = subprocess.Popen(
        [str(VENV_PYTHON), "-m", "archon_async.simulate", "--port", str(sim_port),
         "--latency-ms", str(latency_ms), "--chunk-interval-ms", str(chunk_ms),
         "--reply-tokens", str(words)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(_config(), file)
    server = subprocess.Popen(
        [str(VENV_PYTHON), "-m", "archon_async.cli", "serve", file.name,
         "--simulate-url", f"http://127.0.0.1:{sim_port}", "--port", str(serve_port),
         "--max-concurrent", "4096"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_until_up(f"http://127.0.0.1:{sim_port}/stats", "simulator", sim)
        _wait_until_up(f"http://127.0.0.1:{serve_port}/ready", "server", server)
        yield f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{serve_port}", server.pid
    finally:
        for process in (server, sim):
            process.terminate()
            process.wait(30)
        os.unlink(file.name)


async def stream_once(session: aiohttp.ClientSession, root: str) -> tuple[float, str, bool]:
    """One streamed chat completion: (seconds to the first text, the text, ended by [DONE])."""
    body = {"model": "one-call", "messages": QUESTION, "stream": True}
    started = time.perf_counter()
    first = None
    texts: list[str] = []
    done = False
    async with session.post(f"{root}/v1/chat/completions", json=body) as reply:
        reply.raise_for_status()
        async for raw in reply.content:
            line = raw.strip()
            if not line.startswith(b"data: "):
                continue
            data = line[6:]
            if data == b"[DONE]":
                done = True
                break
            chunk = json.loads(data)
            for choice in chunk.get("choices") or ():
                text = (choice.get("delta") or {}).get("content")
                if text:
                    if first is None:
                        first = time.perf_counter() - started
                    texts.append(text)
    return (first if first is not None else float("nan")), "".join(texts), done


async def measure_ttft(sim: str, server: str, requests: int) -> dict[str, Any]:
    direct: list[float] = []
    served: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(10):  # warm-up: connections, imports, first-call paths
            await stream_once(session, sim)
            await stream_once(session, server)
        for index in range(requests):
            order = (sim, server) if index % 2 == 0 else (server, sim)
            for root in order:
                ttft, _, done = await stream_once(session, root)
                assert done, f"{root}: the stream did not end with [DONE]"
                (direct if root == sim else served).append(ttft * 1000)
    return {
        "direct_ms": direct,
        "served_ms": served,
        "deltas_ms": [s - d for s, d in zip(served, direct, strict=True)],
    }


async def measure_ttft_in_process(args: argparse.Namespace) -> dict[str, Any]:
    """TTFT with the simulator, the server and the client on one event loop: what the
    server's hop costs in work, without the waits of three processes for the CPU."""
    import uvicorn

    from archon_async.serve import create_app
    from archon_async.simulate import SimulatedServer, SimulationSettings

    settings = SimulationSettings(
        latency_s=args.latency_ms / 1000,
        chunk_interval_s=args.chunk_ms / 1000,
        reply_tokens=args.words,
    )
    async with SimulatedServer(settings) as sim:
        app = create_app([_config()], simulate=sim.base_url)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        serving = asyncio.ensure_future(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            return await measure_ttft(sim.base_url, f"http://127.0.0.1:{port}", args.requests)
        finally:
            server.should_exit = True
            await serving


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """User and system CPU time a process has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure_concurrent(server: str, pid: int, count: int) -> dict[str, Any]:
    cpu_before = cpu_s(pid)
    before = rss_mb(pid)
    peak = before
    sampling = True

    async def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, rss_mb(pid))
            await asyncio.sleep(0.1)

    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        sampler = asyncio.ensure_future(sample())
        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(stream_once(session, server) for _ in range(count)), return_exceptions=True
        )
        wall = time.perf_counter() - started
        sampling = False
        await sampler
    await asyncio.sleep(1.0)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    finished = [o for o in outcomes if not isinstance(o, BaseException) and o[2] and o[1]]
    ttfts = sorted(o[0] * 1000 for o in finished)
    return {
        "count": count,
        "completed": len(finished),
        "errors": len(errors),
        "first_error": repr(errors[0]) if errors else None,
        "wall_s": wall,
        "ttft_p50_ms": statistics.median(ttfts) if ttfts else None,
        "ttft_p99_ms": ttfts[int(len(ttfts) * 0.99) - 1] if ttfts else None,
        "rss_before_mb": before,
        "rss_peak_mb": peak,
        "rss_after_mb": rss_mb(pid),
        "server_cpu_ms_per_stream": (cpu_s(pid) - cpu_before) * 1000 / count,
    }


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _ttft_table(ttft: dict[str, Any]) -> str:
    rows = []
    for label, key in (
        ("simulator directly", "direct_ms"),
        ("through the server", "served_ms"),
        ("difference (paired)", "deltas_ms"),
    ):
        values = ttft[key]
        rows.append(
            [label, f"{statistics.median(values):.1f} ms", f"{_quantile(values, 0.9):.1f} ms"]
        )
    return _table(["path", "median", "p90"], rows)


def _crowd_table(crowd: list[dict[str, Any]]) -> str:
    rows = []
    for row in crowd:
        memory = [row["rss_before_mb"], row["rss_peak_mb"], row["rss_after_mb"]]
        rows.append(
            [
                str(row["count"]),
                str(row["completed"]),
                str(row["errors"]),
                f"{row['wall_s']:.1f} s",
                f"{row['ttft_p50_ms']:.0f} / {row['ttft_p99_ms']:.0f} ms",
                " / ".join(f"{value:.0f}" for value in memory) + " MB",
                f"{row['server_cpu_ms_per_stream']:.1f} ms",
            ]
        )
    header = ["streams at once", "completed", "errors", "wall", "TTFT p50 / p99"]
    return _table([*header, "server RSS before / peak / after", "server CPU per stream"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrent", type=int, nargs="+", default=[250, 1000])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--chunk-ms", type=float, default=5.0)
    parser.add_argument("--words", type=int, default=20)
    args = parser.parse_args()
    with processes(args.latency_ms, args.chunk_ms, args.words) as (sim, server, pid):
        ttft = asyncio.run(measure_ttft(sim, server, args.requests))
        crowd = [asyncio.run(measure_concurrent(server, pid, n)) for n in args.concurrent]
    one_loop = asyncio.run(measure_ttft_in_process(args))
    print(f"TTFT, {args.requests} alternated requests, L = {args.latency_ms:g} ms:\n")
    print("Three processes (simulator, server, client):\n")
    print(_ttft_table(ttft) + "\n")
    print("One process, one event loop:\n")
    print(_ttft_table(one_loop) + "\n")
    print(_crowd_table(crowd))
    for row in crowd:
        if row["first_error"]:
            print(f"first error at {row['count']}: {row['first_error']}")


if __name__ == "__main__":
    main()
