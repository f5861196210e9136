"""Measure 3 by parts, alternated: client CPU a call of bare aiohttp and of each engine level.

Runs, round after round against one simulated server (latency 0), bare aiohttp
(`bench.clients.aiohttp_raw`), the engine entered at each level of `bench.clients.parts`
(provider, dispatch, callpath, generate) and the whole engine (`bench.clients.engine`:
`run_batch`), each in its own process, measure 3's arguments (``--shape single --n 5000
--inflight 64 --workers 64 --warmup 200``). With ``--tree NAME=PATH`` (repeatable) the engine
clients run from each tree (its own ``.venv``), in turn within a round, so that a change is
alternated against a baseline copy; bare aiohttp runs from the first tree. Prints every run
(with the load average as it started) and the medians, per level and per tree, with the
ratios to bare aiohttp; ``--output`` keeps them as JSON.

    python bench/cpu_parts.py --rounds 5 --tree base=/tmp/cpu-base --tree new=.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, server

LEVELS = ("aiohttp", "provider", "dispatch", "callpath", "generate", "engine")
MEASURE_3 = ["--shape", "single", "--n", "5000", "--inflight", "64", "--workers", "64"]


def _command(level: str, base_url: str, result: Path, n: int) -> list[str]:
    args = list(MEASURE_3)
    args[args.index("--n") + 1] = str(n)
    args += ["--warmup", "200", "--base-url", base_url, "--result", str(result)]
    if level == "aiohttp":
        return ["-m", "bench.clients.aiohttp_raw", *args]
    if level == "engine":
        return ["-m", "bench.clients.engine", *args]
    return ["-m", "bench.clients.parts", "--level", level, *args]


def _run(tree: Path, level: str, base_url: str, n: int) -> float:
    """One client process from ``tree``; its CPU microseconds a call."""
    with tempfile.TemporaryDirectory() as scratch:
        result = Path(scratch) / "result.json"
        env = dict(os.environ, PYTHONPATH=str(tree))
        python = tree / ".venv" / "bin" / "python"
        subprocess.run(
            [str(python), *_command(level, base_url, result, n)],
            cwd=tree,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        data = json.loads(result.read_text())
    return float(data["cpu_s"]) / float(data["calls"]) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=5000, help="calls a run")
    parser.add_argument("--levels", default=",".join(LEVELS))
    parser.add_argument("--tree", action="append", default=[], help="NAME=PATH (repeatable)")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    trees = [(name, Path(path).resolve()) for name, path in (t.split("=", 1) for t in args.tree)]
    trees = trees or [("here", ROOT)]
    levels = args.levels.split(",")
    for _, tree in trees:
        # A baseline copy made before this bench existed gets its client (bench code only).
        parts = tree / "bench" / "clients" / "parts.py"
        if not parts.exists():
            shutil.copy(ROOT / "bench" / "clients" / "parts.py", parts)
    runs: dict[str, list[float]] = {}
    with server(0.0) as srv:
        for round_ in range(args.rounds):
            for level in levels:
                for name, tree in trees[:1] if level == "aiohttp" else trees:
                    load = os.getloadavg()[0]
                    us = _run(tree, level, srv.root, args.n)
                    label = level if level == "aiohttp" else f"{level}@{name}"
                    runs.setdefault(label, []).append(us)
                    print(f"round {round_ + 1} {label:20} {us:7.1f} us/call  load {load:.2f}")
    aiohttp = statistics.median(runs["aiohttp"]) if "aiohttp" in runs else None
    print("\nmedians (us a call; ratio to bare aiohttp):")
    summary = {}
    for label, values in runs.items():
        mid = statistics.median(values)
        ratio = f"  {mid / aiohttp:.2f}x" if aiohttp else ""
        print(f"  {label:20} {mid:7.1f}{ratio}   ({', '.join(f'{v:.0f}' for v in values)})")
        summary[label] = {"median_us": mid, "runs_us": values}
    if args.output:
        args.output.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
