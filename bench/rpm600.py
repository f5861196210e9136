"""Prompts a minute of the default architecture under a 600 requests/minute limit (issue 12).

    .venv/bin/python bench/rpm600.py --before /path/to/old/.venv/bin/archon-async
        [--prompts 120] [--runs 3] [--rpm 600] [--window-s 10] [--latency-ms 200]

The same command line, ``archon-async batch CONFIG --input P --output O --simulate-url URL``,
is run by this checkout's ``archon-async`` and by another one (``--before``: the engine as
it was before issue 12's call path, e.g. commit 83a7687 installed in its own venv), each
against a fresh simulated provider in its own process whose key allows ``--rpm`` requests a
minute counted over any ``--window-s`` seconds over all its models, and answers 429 beyond
(a per-minute limit enforced over shorter periods, as OpenAI documents; the short window
keeps a run to minutes). CONFIG is the default architecture (2 generators x 5 samples, a
ranker, a fuser) with ``"providers": {"Together_API": {"rpm": R}}``: both engines are told
the limit, as a user who knows it would.

Prompts a minute, three ways: over the provider's request log (first request to last, so
start-up is left out; the figure compared, with runs many windows long so that the first
window's allowance, which a client may spend at once, weighs little); in steady state (answer
lines written between one window after the first answer and the 90th percent of the prompts:
a check, noisier, as prompts finish in waves); and by the wall clock of the whole command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, VENV_PYTHON, free_port, get_json, median

_SIM_KEY = "sim-key"  # the key both engines send to a simulated provider


def _config(rpm: int, told: bool) -> dict[str, Any]:
    default: dict[str, Any] = json.loads((ROOT / "configs" / "default.json").read_text())
    return {**default, "providers": {"Together_API": {"rpm": rpm}}} if told else default


def _start_simulator(args: argparse.Namespace, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    settings = {
        "port": port,
        "latency_s": args.latency_ms / 1000,
        "rpm_window_s": args.window_s,
        "keys": {_SIM_KEY: {"rpm": args.rpm}},
        "request_log": 1_000_000,
    }
    path = folder / "sim.json"
    path.write_text(json.dumps(settings))
    process = subprocess.Popen(
        [str(VENV_PYTHON), "-m", "archon_async.simulate", "--config", str(path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    root = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            get_json(f"{root}/stats")
            return process, root
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the simulated provider did not start") from None
            time.sleep(0.1)


def _follow(command: list[str], folder: Path, answers: Path) -> list[float]:
    """Run the batch; return when each answer line appeared (seconds, sorted)."""
    finished: list[float] = []
    started = time.perf_counter()
    with (folder / "stderr.txt").open("w") as errors:
        process = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=errors)
        while True:
            done = process.poll() is not None
            lines = answers.read_bytes().count(b"\n") if answers.exists() else 0
            now = time.perf_counter() - started
            finished += [now] * (lines - len(finished))
            if done:
                break
            time.sleep(0.1)
    if process.returncode != 0:
        tail = (folder / "stderr.txt").read_text()[-3000:]
        raise RuntimeError(f"{command[0]} batch failed:\n{tail}")
    return finished


def one_run(args: argparse.Namespace, command: str) -> dict[str, float]:
    """One batch by one engine against a fresh provider; the figures of its request log."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        config = folder / "default-rpm.json"
        config.write_text(json.dumps(_config(args.rpm, args.told)))
        prompts = folder / "prompts.jsonl"
        lines = [
            json.dumps({"id": f"q{i}", "prompt": f"Question {i}: name a prime above {i}."})
            for i in range(args.prompts)
        ]
        prompts.write_text("\n".join(lines) + "\n")
        process, root = _start_simulator(args, folder)
        try:
            batch = [
                command, "batch", str(config), "--input", str(prompts),
                "--output", str(folder / "answers.jsonl"), "--simulate-url", root,
            ]  # fmt: skip
            started = time.perf_counter()
            finished = _follow(batch, folder, folder / "answers.jsonl")
            wall = time.perf_counter() - started
            log = get_json(f"{root}/requests", timeout=30)
        finally:
            process.terminate()
            process.wait(10)
        answers = [json.loads(line) for line in (folder / "answers.jsonl").read_text().splitlines()]
    answered = sum(1 for answer in answers if not answer.get("error"))
    # Steady state: from one window after the first prompt finished (the provider's first
    # window lets a client that knows nothing burst) to the 90th percent of the prompts
    # (then the batch drains, fewer prompts in flight).
    first_done = finished[0]
    steady_from = first_done + args.window_s
    steady_to = finished[int(0.9 * len(finished)) - 1]
    steady = sum(1 for at in finished if steady_from < at <= steady_to)
    times = sorted(record["at_s"] for record in log)
    span = times[-1] - times[0]
    return {
        "answered": answered,
        "requests": len(log),
        "refused": sum(1 for record in log if record["status"] == 429),
        "span_s": span,
        "wall_s": wall,
        "per_min": answered / span * 60,
        "per_min_steady": steady / (steady_to - steady_from) * 60,
        "steady_s": steady_to - steady_from,
        "per_min_wall": answered / wall * 60,
        "used": sum(1 for record in log if record["status"] == 200) / (args.rpm * span / 60),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", required=True, help="the earlier engine's archon-async")
    parser.add_argument("--after", default=str(ROOT / ".venv" / "bin" / "archon-async"))
    parser.add_argument("--prompts", type=int, default=120)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rpm", type=int, default=600)
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument(
        "--told-nothing",
        dest="told",
        action="store_false",
        help="the shipped default config as it is: the engines learn the limit from the "
        "provider's rate-limit headers and 429s",
    )
    args = parser.parse_args()
    load = os.getloadavg()
    rows: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for _ in range(args.runs):  # interleaved, so that both meet the same load
        for side in ("before", "after"):
            rows[side].append(one_run(args, getattr(args, side)))
            print(side, rows[side][-1], file=sys.stderr)
    print(
        f"R = {args.rpm}/min on the key over any {args.window_s:g} s, {args.prompts} prompts, "
        f"engines {'told the limit' if args.told else 'told nothing'}, "
        f"L = {args.latency_ms:g} ms; load average before: "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print()
    print("| engine | requests a prompt | 429s | used / R | prompts/min steady (over) | "
          "prompts/min (first to last request) | prompts/min (wall) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for side, runs in rows.items():
        for run in runs:
            print(
                f"| {side} | {run['requests'] / args.prompts:.2f} | {run['refused']:.0f} | "
                f"{run['used']:.3f} | {run['per_min_steady']:.1f} ({run['steady_s']:.0f} s) | "
                f"{run['per_min']:.1f} ({run['span_s']:.0f} s) | {run['per_min_wall']:.1f} |"
            )
    before = median([run["per_min_steady"] for run in rows["before"]])
    after = median([run["per_min_steady"] for run in rows["after"]])
    before_span = median([run["per_min"] for run in rows["before"]])
    after_span = median([run["per_min"] for run in rows["after"]])
    before_wall = median([run["per_min_wall"] for run in rows["before"]])
    after_wall = median([run["per_min_wall"] for run in rows["after"]])
    print()
    print(f"Median prompts/min, first to last request: before {before_span:.1f}, after "
          f"{after_span:.1f}: **{after_span / before_span:.2f}x** (steady state: {before:.1f} "
          f"and {after:.1f}, {after / before:.2f}x; wall clock: {before_wall:.1f} and "
          f"{after_wall:.1f}, {after_wall / before_wall:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
