"""Limits shared through Redis (issue 12): four processes on one key against a server limit R.

    .venv/bin/python bench/redis_share.py [--rpm 1200] [--window-s 10] [--windows 3]
        [--processes 4] [--lanes 16] [--runs 3] [--headroom H] [--latency-ms 50]

Each run starts its own real ``redis-server`` and the simulated provider (each in its own
process, on loopback); the provider allows R requests a minute, counted over any sliding
``--window-s`` seconds (``R * window_s / 60`` requests in it) and answers 429 beyond. Then
``--processes`` worker processes, each told ``rpm = R`` for the provider and sharing one
`RedisLimits`, keep ``--lanes`` single-call prompts going each until ``--windows`` windows
have passed. The request log of the provider gives, over the measured span (from the first
request, ``windows * window_s`` seconds):

* used share of R: answered requests / (R * span / 60);
* 429 share: 429 answers / all requests;
* the fullest window: the most answered requests in any window, against the allowance.

The window is shorter than a real provider's minute (so a run takes seconds), with R scaled
so that a window still holds ``R * window_s / 60`` requests: what the limiter must get right
(pacing at the rate, no burst over the window) is the same.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, VENV_PYTHON, free_port, get_json, median

_ARCH = {
    "name": "one-call",
    "layers": [[{"type": "generator", "model": "m", "model_type": "OpenAI_API", "max_tokens": 8}]],
}


@dataclass
class Run:
    """One run's figures, from the provider's request log."""

    answered: int
    refused: int
    used: float  # answered / (R * span / 60)
    refused_share: float
    fullest_window: int
    allowance: int
    per_process: list[int]
    rebooked: int = 0  # turns given up by requests woken too late


def _wait_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up within 30 s")


@contextmanager
def _process(command: list[str], port: int, what: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_port(port, process, what)
        yield process
    finally:
        process.terminate()
        process.wait(10)


def _worker_command(args: argparse.Namespace, sim: str, redis_url: str, tag: str) -> list[str]:
    return [
        str(VENV_PYTHON), __file__, "--worker", sim, redis_url, tag,
        "--rpm", str(args.rpm), "--lanes", str(args.lanes), "--window-s", str(args.window_s),
        "--windows", str(args.windows), "--prefix", tag.split("/")[0],
    ] + (["--headroom", str(args.headroom)] if args.headroom is not None else [])  # fmt: skip


def one_run(args: argparse.Namespace, number: int) -> Run:
    """Start redis-server, the provider and the workers; read the provider's request log."""
    redis_port, sim_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as folder:
        redis_cmd = [
            shutil.which("redis-server") or "redis-server", "--port", str(redis_port),
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", folder,
        ]  # fmt: skip
        sim_cmd = [
            str(VENV_PYTHON), "-m", "archon_async.simulate", "--port", str(sim_port),
            "--latency-ms", f"{args.latency_ms:g}", "--rpm", str(args.rpm),
            "--rpm-window-s", f"{args.window_s:g}", "--request-log", "1000000",
        ]  # fmt: skip
        with _process(redis_cmd, redis_port, "redis-server"), _process(sim_cmd, sim_port, "sim"):
            sim = f"http://127.0.0.1:{sim_port}"
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
            workers = [
                subprocess.Popen(
                    _worker_command(args, sim, redis_url, f"run{number}/p{i}"),
                    cwd=ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for i in range(args.processes)
            ]
            # Every worker imported and warmed up, and its warm-up call a window old when
            # the measure starts (with the first request after the warm-ups).
            for worker in workers:
                assert worker.stdout is not None and worker.stdin is not None
                if worker.stdout.readline().strip() != "ready":
                    raise RuntimeError("a worker did not start")
            start_at = time.time() + args.window_s + 0.5
            for worker in workers:
                assert worker.stdin is not None
                worker.stdin.write(f"{start_at}\n")
                worker.stdin.flush()
            outputs = [worker.communicate(timeout=args.windows * args.window_s + 120)[0]
                       for worker in workers]  # fmt: skip
            for worker in workers:
                if worker.returncode != 0:
                    raise RuntimeError(f"a worker exited with {worker.returncode}")
            log = get_json(f"{sim}/requests", timeout=30)
    reports = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    run = _figures(log, args, [report["answered"] for report in reports])
    run.rebooked = sum(report["rebooked"] for report in reports)
    return run


def _figures(log: list[dict[str, Any]], args: argparse.Namespace, per_process: list[int]) -> Run:
    log = sorted(log, key=lambda record: record["at_s"])
    first = log[args.processes]["at_s"]  # after one warm-up call per process
    span = args.windows * args.window_s
    measured = [record for record in log if first <= record["at_s"] < first + span]
    answered = [record["at_s"] for record in measured if record["status"] == 200]
    refused = sum(1 for record in measured if record["status"] == 429)
    allowance = int(args.rpm * args.window_s / 60)
    fullest, low = 0, 0
    everything = [record["at_s"] for record in log if record["status"] == 200]
    if log[args.processes - 1]["at_s"] > first - args.window_s:
        print(
            "warning: a warm-up call fell in the first measured window",
            [record["at_s"] for record in log[: args.processes + 2]],
            file=sys.stderr,
        )
    for high, at in enumerate(everything):
        while everything[low] <= at - args.window_s:
            low += 1
        fullest = max(fullest, high - low + 1)
    return Run(
        answered=len(answered),
        refused=refused,
        used=len(answered) / (args.rpm * span / 60),
        refused_share=refused / max(1, len(measured)),
        fullest_window=fullest,
        allowance=allowance,
        per_process=per_process,
    )


async def worker(args: argparse.Namespace) -> None:
    """One process: ``--lanes`` prompts at a time until the measured span is over."""
    import anyio

    from archon_async import CallPath, Engine
    from archon_async.callpath import RedisLimits

    sim, redis_url, tag = args.worker
    kwargs = {} if args.headroom is None else {"headroom": args.headroom}
    # The processes are told the provider's window, as RedisLimits's documentation asks.
    limits = RedisLimits(redis_url, prefix=args.prefix, window_s=args.window_s, **kwargs)
    answered = 0
    async with CallPath(
        simulate=sim, providers={"OpenAI_API": {"rpm": args.rpm}}, shared_limits=limits
    ) as calls:
        engine = Engine(_ARCH, callpath=calls)
        # One call first: a process's first call does one-time work (Redis scripts loaded,
        # connections opened, modules imported) that, measured, blocks the loop for up to a
        # second on a loaded machine while the turns its other lanes booked go by.
        await engine.generate(f"{tag} warm-up")
        print("ready", flush=True)
        start_at = float(await asyncio.to_thread(sys.stdin.readline))
        await asyncio.sleep(max(0.0, start_at - time.time()))
        stop = time.monotonic() + args.windows * args.window_s + 1.0

        async def lane(number: int) -> None:
            nonlocal answered
            asked = 0
            while time.monotonic() < stop:
                await engine.generate(f"{tag} lane {number} question {asked}")
                asked += 1
                answered += 1

        with anyio.move_on_after(args.windows * args.window_s + 2.0):
            async with anyio.create_task_group() as group:
                for number in range(args.lanes):
                    group.start_soon(lane, number)
    await limits.aclose()
    print(json.dumps({"answered": answered, "rebooked": limits.rebooked}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default="bench", help=argparse.SUPPRESS)
    parser.add_argument("--rpm", type=int, default=1200, help="R, for all processes together")
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument("--windows", type=int, default=3, help="windows measured per run")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--lanes", type=int, default=16, help="prompts in flight per process")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--headroom", type=float, default=None, help="RedisLimits(headroom=)")
    args = parser.parse_args()
    if args.worker:
        asyncio.run(worker(args))
        return
    load = os.getloadavg()
    runs = []
    for number in range(args.runs):
        runs.append(one_run(args, number))
        print(f"run {number}: {runs[-1]}", file=sys.stderr)
    print(f"R = {args.rpm}/min over any {args.window_s:g} s ({runs[0].allowance} requests), "
          f"{args.processes} processes x {args.lanes} prompts in flight, "
          f"{args.windows} windows a run, L = {args.latency_ms:g} ms; "
          f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print()
    print(
        "| run | answered | 429s | used / R | 429 share | fullest window / allowance "
        "| per process | turns rebooked |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for number, run in enumerate(runs):
        print(
            f"| {number + 1} | {run.answered:,} | {run.refused} | {run.used:.3f} | "
            f"{run.refused_share:.2%} | {run.fullest_window} / {run.allowance} | "
            f"{', '.join(map(str, run.per_process))} | {run.rebooked} |"
        )
    print()
    print(f"Median used / R: {median([r.used for r in runs]):.3f}; "
          f"median 429 share: {median([r.refused_share for r in runs]):.2%}")  # fmt: skip


if __name__ == "__main__":
    main()
