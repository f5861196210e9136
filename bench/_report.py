"""Renders the benchmark's results as bench/RESULTS.md (tables and targets)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

NOTES_MARKER = "<!-- notes -->"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _f(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}"


def render(results: dict[str, Any]) -> str:
    """The whole RESULTS.md."""
    m = results["machine"]
    parts = [
        "# Benchmark results",
        "",
        f"Command: `{results['command']}` (after `bash bench/setup.sh`)."
        + (" **Quick mode: one run each, small sizes.**" if results["quick"] else ""),
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, {m['platform']}; "
        f"{m['date']}; commit {m['commit']}; load average before the run {m['load_before']}.",
        "",
        "The simulated provider runs in its own process on loopback, one fresh server per "
        "scenario; each client runs in its own process (CPU time and peak RSS are the "
        "client's). Server and client share the machine's cores, and the machine was shared "
        "with other work during the run: read the ratios, not the seconds. All sides use the "
        'OpenAI_API model_type (see README.md here for why). "server busy" is the server '
        "process's CPU seconds per wall second during a client's run: near 1.0, the "
        "single-threaded server, not the client, set the pace.",
    ]
    for key, render_part in (
        ("critical_path", _critical_path),
        ("batch", _batch),
        ("dispatch", _dispatch),
        ("rate_limit", _rate_limit),
        ("memory", _memory),
        ("knee", _knee),
    ):
        if key in results:
            parts += ["", render_part(results[key])]
            ran = results.get("ran", {}).get(key)
            if ran:
                parts += ["", f"_Ran {ran['at']}, load average before: {ran['load_before']}._"]
    parts += ["", NOTES_MARKER, ""]
    return "\n".join(parts)


def _critical_path(rows: list[dict[str, Any]]) -> str:
    table = _table(
        ("architecture", "L", "client", "wall (median)", "D x L", "wall / (D x L)"),
        [
            (
                r["shape"],
                f"{r['latency_ms']} ms",
                r["client"],
                f"{_f(r['wall_s'], 3)} s",
                f"{_f(r['ideal_s'], 2)} s",
                _f(r["ratio"], 3),
            )
            for r in rows
        ],
    )
    engine = [r for r in rows if r["client"] == "engine" and r["latency_ms"] == 200]
    worst = max((r["ratio"] for r in engine), default=float("nan"))
    return (
        "## 1. One query against the critical path\n\n"
        "default = configs/default.json (10 samples -> ranker top 5 -> fuser, 12 calls, D = 3); "
        "moa = configs/moa_two_layers.json (4 -> 3 -> 1, 8 calls, D = 3). Median over "
        "sequential queries after a warm-up (archon-ai: 3 queries, one run).\n\n"
        f"{table}\n\nTarget: engine at most 1.05 at L = 200 ms: worst {_f(worst, 3)}, "
        f"{_verdict(worst <= 1.05)}."
    )


def _batch(data: dict[str, Any]) -> str:
    rows = data["rows"]
    table = _table(
        (
            "client",
            "prompts",
            "wall",
            "calls/s",
            "CPU s / 1k calls",
            "peak RSS",
            "server busy",
            "runs",
        ),
        [
            (
                r["client"],
                f"{r['prompts']:,}",
                f"{_f(r['wall_s'], 1)} s",
                _f(r["calls_per_s"], 0),
                _f(r["cpu_per_1k_calls_s"], 2),
                f"{_f(r['peak_rss_mb'], 0)} MB",
                _f(r["server_busy"]),
                r["runs"],
            )
            for r in rows
        ],
    )
    speed = {r["client"]: r["calls_per_s"] for r in rows}
    engine = speed.get("engine", float("nan"))
    openai_best = max((v for k, v in speed.items() if k.startswith("openai")), default=0.0)
    archon = max((v for k, v in speed.items() if k.startswith("archon-ai")), default=0.0)
    aiohttp = speed.get("bare aiohttp (reference)", float("nan"))
    tuning = "; ".join(
        f"{name}: " + ", ".join(f"{k} -> {_f(v, 0)} calls/s" for k, v in speeds.items())
        for name, speeds in data["tuning"].items()
    )
    lines = [
        "## 2. Batch throughput: 12-call architecture, L = 50 ms, no rate limit\n",
        "Engine: `run_batch`, 128 prompts in flight, max_concurrency 256. Baselines do the "
        "same 12 calls per prompt with the same layer dependencies (bench/clients/_raw.py); "
        "their calls in flight (a semaphore as wide as the connection pool) were tuned in "
        f"this invocation on a short batch ({tuning}). archon-ai runs on a subset of the "
        "prompts (it makes about 35 calls/s); its calls/s is what is compared.\n",
        table,
        "",
        f"* engine / best openai.AsyncOpenAI: {_f(engine / openai_best if openai_best else 0)}x"
        f" (target >= 0.9: {_verdict(bool(openai_best) and engine >= 0.9 * openai_best)})",
        f"* engine / best archon-ai: {_f(engine / archon if archon else 0, 1)}x "
        f"(target >= 20: {_verdict(bool(archon) and engine >= 20 * archon)})",
        f"* engine / bare aiohttp: {_f(engine / aiohttp)}x (reference, no target)",
    ]
    return "\n".join(lines)


def _dispatch(rows: list[dict[str, Any]]) -> str:
    table = _table(
        ("client", "calls", "calls/s", "CPU us / call", "peak RSS", "server busy"),
        [
            (
                r["client"],
                f"{int(r['calls']):,}",
                _f(r["calls_per_s"], 0),
                _f(r["cpu_us_per_call"], 0),
                f"{_f(r['peak_rss_mb'], 0)} MB",
                _f(r["server_busy"]),
            )
            for r in rows
        ],
    )
    cpu = {r["client"]: r["cpu_us_per_call"] for r in rows}
    ratio = cpu.get("engine", float("nan")) / cpu.get("bare aiohttp", float("nan"))
    return (
        "## 3. Dispatch overhead: single calls, L = 0\n\n"
        "Single-call architecture (configs/single_model.json) for the engine; one request per "
        "call for the others. 64 calls in flight on a pool of 64, after 200 warm-up calls. "
        "The engine row is `run_batch` with the `archon-async batch` command's starts a loop "
        "turn; the Python API's default, one, is the row below it.\n\n"
        f"{table}\n\nTarget: engine CPU per call at most 3x bare aiohttp: "
        f"{_f(ratio)}x, {_verdict(ratio <= 3)}."
    )


def _rate_limit(data: dict[str, Any]) -> str:
    rpm = data["rpm"]
    rows = [
        (
            "engine told rpm" if label == "configured" else "engine told nothing",
            f"{_f(run['wall_s'], 1)} s",
            f"{run['ok']:,}",
            f"{run['rate_limited']:,}",
            _f(run["achieved_over_r"], 3),
            f"{_f(run['share_429'] * 100, 2)} %",
            run["failed"],
        )
        for label in ("configured", "unconfigured")
        for run in data.get(label, [])
    ]
    table = _table(
        ("run", "wall", "answered", "429s", "achieved / R", "429 share", "failed prompts"),
        rows,
    )
    configured = data.get("configured", [])
    achieved = sorted(run["achieved_over_r"] for run in configured)
    share = sorted(run["share_429"] for run in configured)
    mid_a = achieved[len(achieved) // 2] if achieved else float("nan")
    mid_s = share[len(share) // 2] if share else float("nan")
    timeline = ""
    if data.get("unconfigured"):
        points = data["unconfigured"][0]["timeline"]
        samples = [(t, c) for t, c in points][:: max(1, len(points) // 12)]
        timeline = "\n\nEngine told nothing, cumulative server counts over time:\n\n" + _table(
            ("t", "answered", "429s"),
            [(f"{_f(t, 1)} s", f"{c['ok']:,}", f"{c['rate_limited']:,}") for t, c in samples],
        )
    return (
        f"## 4. Rate-limit adherence: server limit R = {rpm:g}/min, {data['calls']:,} calls\n\n"
        "Single-call prompts, L = 50 ms, 64 prompts in flight, a fresh server per run.\n\n"
        f"{table}\n\nTarget: at least 0.95 R with under 1 % 429s: median {_f(mid_a, 3)} R, "
        f"{_f(mid_s * 100, 2)} % 429s, {_verdict(mid_a >= 0.95 and mid_s < 0.01)}.{timeline}"
    )


def _memory(rows: list[dict[str, Any]]) -> str:
    table = _table(
        ("batch", "wall", "calls/s", "peak RSS", "max loop lag", "p99 lag", "median lag"),
        [
            (
                r["client"],
                f"{_f(r['wall_s'], 1)} s",
                _f(r["calls_per_s"], 0),
                f"{_f(r['peak_rss_mb'], 0)} MB",
                f"{_f(r['lag_max_ms'], 1)} ms",
                f"{_f(r['lag_p99_ms'], 1)} ms",
                f"{_f(r['lag_median_ms'], 1)} ms",
            )
            for r in rows
        ],
    )
    rss = [r["peak_rss_mb"] for r in rows]
    growth = rss[-1] / rss[0] if rss else float("nan")
    return (
        "## 5. Memory at scale and 6. event-loop health\n\n"
        "Single-call architecture, L = 20 ms, `run_batch` with 128 prompts in flight and "
        "max_concurrency 256; one run per size. Loop lag: a task sleeping 10 ms at a time "
        "records how late it wakes, for the whole batch.\n\n"
        f"{table}\n\nTarget: peak RSS flat after warm-up: largest / smallest batch "
        f"{_f(growth)}x, {_verdict(growth <= 1.25)} (flat = within 25 %)."
    )


def _knee(rows: list[dict[str, Any]]) -> str:
    table = _table(
        ("engine setting", "wall", "calls/s", "CPU s / 1k calls", "peak RSS"),
        [
            (
                r["client"],
                f"{_f(r['wall_s'], 1)} s",
                _f(r["calls_per_s"], 0),
                _f(r["cpu_per_1k_calls_s"], 2),
                f"{_f(r['peak_rss_mb'], 0)} MB",
            )
            for r in rows
        ],
    )
    return (
        "## Knee: engine batch throughput against max_concurrency\n\n"
        "12-call architecture, L = 50 ms, prompts in flight = max_concurrency (so that there "
        "is always more demand than the cap).\n\n" + table
    )
