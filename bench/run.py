"""Runs every measure of the benchmark and writes bench/RESULTS.md.

    bash bench/setup.sh                      # once: archon-ai 0.1.4 in its own venv
    .venv/bin/python bench/run.py            # everything, medians of 3 (about 20 minutes)
    .venv/bin/python bench/run.py --quick    # one run each, smaller sizes (a few minutes)
    .venv/bin/python bench/run.py --only 2,3 # some measures only

Each scenario starts a fresh simulated provider (`python -m archon_async.simulate`) in its own
process on loopback; each client runs in its own process, so that its CPU time and peak RSS
are its own. Ratios are computed between runs of the same invocation.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archon_async._batch import COMMAND_STARTS_PER_TURN
from bench import _report
from bench._common import (
    ARCHON_AI_PYTHON,
    BENCH,
    LAYERS,
    OUT,
    Server,
    median,
    python_version,
    run_client,
    server,
)


@dataclass(frozen=True)
class Sizes:
    """How big and how often; --quick shrinks everything."""

    repeats: int
    queries: int
    batch_prompts: int
    archon_prompts: int
    tune_prompts: int
    dispatch_calls: int
    rate_calls: int
    rate_rpm: float
    memory_sizes: tuple[int, ...]
    knee_prompts: int


FULL = Sizes(3, 5, 1000, 100, 50, 5000, 2000, 1200, (1000, 10_000, 100_000), 300)
QUICK = Sizes(1, 2, 100, 10, 20, 1000, 330, 300, (1000, 5000), 50)


def archon_ai_available() -> bool:
    """Whether bench/setup.sh has made archon-ai's venv."""
    return ARCHON_AI_PYTHON.exists()


def run_repeated(srv: Server, args: list[str], repeats: int, **kw: Any) -> list[dict[str, Any]]:
    """The same client run ``repeats`` times against one server."""
    return [run_client(srv, args, **kw) for _ in range(repeats)]


def archon_ai(srv: Server, args: list[str], repeats: int = 1) -> list[dict[str, Any]]:
    """archon-ai's driver, in archon-ai's venv."""
    script = str(BENCH / "archon_ai_driver.py")
    return [run_client(srv, args, python=ARCHON_AI_PYTHON, script=script) for _ in range(repeats)]


def log(message: str) -> None:
    """Progress on stderr."""
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ measures


def measure_critical_path(sizes: Sizes) -> list[dict[str, Any]]:
    """(1) One query at a time: wall over D x L."""
    rows = []
    for shape in ("default", "moa"):
        for latency in (50, 200):
            with server(latency) as srv:
                query = ["--mode", "query", "--shape", shape, "--n", str(sizes.queries)]
                runs = {
                    "engine": run_repeated(srv, ["engine", *query], sizes.repeats),
                    "bare aiohttp": run_repeated(srv, ["aiohttp_raw", *query], sizes.repeats),
                }
                if archon_ai_available():
                    few = ["--mode", "query", "--shape", shape, "--n", str(min(3, sizes.queries))]
                    runs["archon-ai 0.1.4"] = archon_ai(srv, few)
            ideal = LAYERS[shape] * latency / 1000
            for client, results in runs.items():
                wall = median([median(r["walls"]) for r in results])
                rows.append(
                    {"shape": shape, "latency_ms": latency, "client": client, "wall_s": wall}
                    | {"ideal_s": ideal, "ratio": wall / ideal}
                )
            log(f"  critical path {shape} L={latency}: done")
    return rows


def _batch_row(name: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over repeated batch runs; calls counted by the server."""
    per_run = []
    for r in results:
        calls = r["calls"]  # the server's count would include the warm-up calls
        per_run.append(
            {
                "wall_s": r["wall_s"],
                "calls": calls,
                "calls_per_s": calls / r["wall_s"],
                "cpu_per_1k_calls_s": r["cpu_s"] / calls * 1000,
                "cpu_us_per_call": r["cpu_s"] / calls * 1e6,
                "peak_rss_mb": r["peak_rss_mb"],
                "failed": r.get("failed", 0),
                "rate_limited": r["server"]["rate_limited"],
                "server_busy": r["server_busy"],
            }
        )
    row: dict[str, Any] = {"client": name, "runs": len(results), "prompts": results[0]["prompts"]}
    for key in per_run[0]:
        row[key] = median([run[key] for run in per_run])
    return row


def tune_inflight(
    srv: Server, client: list[str], prompts: int, choices: tuple[int, ...]
) -> tuple[int, dict[int, float]]:
    """The calls-in-flight (semaphore = pool size) that gives ``client`` the most calls/s."""
    speeds = {}
    for inflight in choices:
        args = [*client, "--n", str(prompts), "--inflight", str(inflight)]
        args += ["--workers", str(max(8, inflight // 2))]
        result = run_client(srv, args)
        speeds[inflight] = result["calls"] / result["wall_s"]
    return max(speeds, key=lambda k: speeds[k]), speeds


def measure_batch(sizes: Sizes) -> dict[str, Any]:
    """(2) 1,000 prompts x 12 calls at L = 50 ms."""
    rows, tuning = [], {}
    batch = ["--shape", "default", "--n", str(sizes.batch_prompts)]
    with server(50) as srv:
        plain = ["--inflight", "256", "--workers", "128"]
        rows.append(
            _batch_row("engine", run_repeated(srv, ["engine", *batch, *plain], sizes.repeats))
        )
        log("  batch: engine done")
        for name, client in (
            ("openai.AsyncOpenAI (httpx)", ["openai_raw"]),
            ("openai.AsyncOpenAI (aiohttp transport)", ["openai_raw", "--transport", "aiohttp"]),
        ):
            best, speeds = tune_inflight(srv, client, sizes.tune_prompts, (16, 64, 256))
            tuning[name] = speeds
            tuned = ["--inflight", str(best), "--workers", str(max(8, best // 2))]
            results = run_repeated(srv, [*client, *batch, *tuned], sizes.repeats)
            rows.append(_batch_row(f"{name}, {best} in flight", results))
            log(f"  batch: {name} done")
        results = run_repeated(srv, ["aiohttp_raw", *batch, *plain], sizes.repeats)
        rows.append(_batch_row("bare aiohttp (reference)", results))
        if archon_ai_available():
            for workers in (16, 64):
                args = ["--shape", "default", "--n", str(sizes.archon_prompts)]
                results = archon_ai(srv, [*args, "--workers", str(workers)])
                rows.append(_batch_row(f"archon-ai 0.1.4, {workers} threads", results))
                log(f"  batch: archon-ai {workers} done")
    return {"rows": rows, "tuning": tuning}


def measure_dispatch(sizes: Sizes) -> list[dict[str, Any]]:
    """(3) Single calls at L = 0: CPU per call."""
    clients = {
        # `archon-async batch` starts several prompts a loop turn; the Python API, one.
        "engine": ["engine", "--starts-per-turn", str(COMMAND_STARTS_PER_TURN)],
        "engine, 1 start a turn (Python default)": ["engine"],
        "httpx.AsyncClient (default transport)": ["httpx_raw"],
        "httpx.AsyncClient (aiohttp transport)": ["httpx_raw", "--transport", "aiohttp"],
        "bare aiohttp": ["aiohttp_raw"],
        "openai.AsyncOpenAI (httpx)": ["openai_raw"],
        "openai.AsyncOpenAI (aiohttp transport)": ["openai_raw", "--transport", "aiohttp"],
    }
    common = ["--shape", "single", "--n", str(sizes.dispatch_calls)]
    common += ["--inflight", "64", "--workers", "64", "--warmup", "200"]
    rows = []
    with server(0) as srv:
        for name, client in clients.items():
            rows.append(_batch_row(name, run_repeated(srv, [*client, *common], sizes.repeats)))
            log(f"  dispatch: {name} done")
    return rows


def measure_rate_limit(sizes: Sizes) -> dict[str, Any]:
    """(4) Server limits to R per minute: engine told R, and engine told nothing.

    The simulated server counts requests per model over a sliding 60 s window, so the
    batch must hold more calls than R to test anything: a client that sends R calls at
    once is then refused until the window slides. R = 1,200/min and 2,000 calls: about
    100 s at R.
    """
    rpm = sizes.rate_rpm
    args = ["engine", "--shape", "single", "--n", str(sizes.rate_calls), "--warmup", "0"]
    args += ["--inflight", "64", "--workers", "64"]
    out: dict[str, Any] = {"rpm": rpm, "calls": sizes.rate_calls}
    for label, extra in (("configured", ["--rpm", f"{rpm:g}"]), ("unconfigured", [])):
        runs = []
        for _ in range(sizes.repeats if label == "configured" else 1):
            with server(50, rpm=rpm) as srv:  # fresh server: an empty rate window each run
                runs.append(run_client(srv, [*args, *extra], poll_s=0.5))
        out[label] = [
            {
                "wall_s": r["wall_s"],
                "ok": r["server"]["ok"],
                "rate_limited": r["server"]["rate_limited"],
                "achieved_over_r": r["server"]["ok"] / r["wall_s"] * 60 / rpm,
                "share_429": r["server"]["rate_limited"] / max(1, r["server"]["total"]),
                "failed": r.get("failed", 0),
                "timeline": r["timeline"],
            }
            for r in runs
        ]
        log(f"  rate limit: {label} done")
    return out


def measure_memory(sizes: Sizes) -> list[dict[str, Any]]:
    """(5) and (6): peak RSS over batch sizes, event-loop lag."""
    rows = []
    with server(20) as srv:
        for n in sizes.memory_sizes:
            args = ["engine", "--shape", "single", "--n", str(n), "--lag"]
            result = run_client(srv, [*args, "--inflight", "256", "--workers", "128"])
            row = _batch_row(f"engine, {n:,} prompts", [result])
            row |= {k: result[k] for k in ("lag_max_ms", "lag_p99_ms", "lag_median_ms")}
            rows.append(row)
            log(f"  memory: {n} done")
    return rows


def measure_knee(sizes: Sizes) -> list[dict[str, Any]]:
    """Engine batch throughput against max_concurrency (prompts in flight = the same)."""
    rows = []
    with server(50) as srv:
        for inflight in (32, 64, 128, 256, 512, 1024):
            args = ["engine", "--shape", "default", "--n", str(sizes.knee_prompts)]
            args += ["--inflight", str(inflight), "--workers", str(inflight)]
            row = _batch_row(f"max_concurrency {inflight}", run_repeated(srv, args, sizes.repeats))
            rows.append(row | {"inflight": inflight})
            log(f"  knee: {inflight} done")
    return rows


MEASURES: dict[str, tuple[str, Callable[[Sizes], Any]]] = {
    "1": ("critical_path", measure_critical_path),
    "2": ("batch", measure_batch),
    "3": ("dispatch", measure_dispatch),
    "4": ("rate_limit", measure_rate_limit),
    "5": ("memory", measure_memory),
    "knee": ("knee", measure_knee),
}


def machine() -> dict[str, str]:
    """What ran the benchmark."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    load = os.getloadavg()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": python_version(),
        "platform": platform.platform(),
        "date": _now(),
        "load_before": f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        "commit": commit,
    }


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one run each, smaller sizes")
    parser.add_argument("--only", default="1,2,3,4,5,knee", help="comma-separated measures")
    parser.add_argument("--output", type=Path, default=BENCH / "RESULTS.md")
    parser.add_argument(
        "--merge", action="store_true", help="keep the other measures of bench/out/results.json"
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    command = " ".join([".venv/bin/python bench/run.py", *sys.argv[1:]])
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick, "command": command}
    # The raw numbers sit next to RESULTS.md's (out/results.json) or next to --output's.
    default = args.output.resolve() == (BENCH / "RESULTS.md").resolve()
    saved = OUT / "results.json" if default else args.output.with_suffix(".json")
    if args.merge and saved.exists():
        # Measures not rerun keep their earlier numbers (each says when it ran).
        results = json.loads(saved.read_text()) | {"machine": results["machine"]}
        results["command"] += f"; then {command}"
    for key in args.only.split(","):
        name, function = MEASURES[key.strip()]
        log(f"measure {key}: {name}")
        ran_at = _now()
        load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
        results[name] = function(sizes)
        results.setdefault("ran", {})[name] = {"at": ran_at, "load_before": load}
    OUT.mkdir(exist_ok=True)
    saved.write_text(json.dumps(results, indent=1))
    # Hand-written analysis below the notes marker survives a rerun.
    previous = args.output.read_text() if args.output.exists() else ""
    notes = previous.partition(_report.NOTES_MARKER)[2].strip("\n")
    args.output.write_text(_report.render(results) + (notes + "\n" if notes else ""))
    log(f"wrote {args.output}")


if __name__ == "__main__":
    main()
