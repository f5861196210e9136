"""Eight architectures in flight under a server-side rate limit, to a hard budget of calls.

    .venv/bin/python bench/search_ratelimit.py                    # 600 rpm, 2,500 calls
    .venv/bin/python bench/search_ratelimit.py --rpm 1200 --budget-calls 5000

A search over the space of `bench/search_oracle.py` (random search, ``--parallel``
architectures evaluated at once, 10 dev questions) runs on the in-process simulated
provider, which allows ``--rpm`` requests in any sliding 60 s window to the one key every
request carries (all eight models together) and answers after ``--latency-ms`` (plus up to
as much again of jitter). The search file's ``providers`` section tells the client the
same limit (`ProviderSettings.rpm` for Together_API). The search has a hard budget of
``--budget-calls`` calls: once the calls sent and in flight reach it, no call is sent.

Measured from the simulator's request log: requests answered per full minute against the
limit (the first minute, when the pacing starts, and the last, partial one, reported
apart), the share of 429s, and the calls sent against the budget.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_oracle import space_file

from archon_async.search import Search


def run(args: argparse.Namespace) -> dict[str, Any]:
    data = space_file(30)
    data["archon_async"] = {  # type: ignore[index]
        **data["archon_async"],  # type: ignore[dict-item]
        "dev_questions": 10,
        "held_out_questions": 0,
        "parallel": args.parallel,
        "budget": {"calls": args.budget_calls},
        "providers": {"Together_API": {"rpm": args.rpm}},
    }
    simulator = {
        "latency_s": args.latency_ms / 1000,
        "jitter_s": args.latency_ms / 1000,
        "keys": {"sim-key": {"rpm": args.rpm}},
        "request_log": 1_000_000,
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "space.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        search = Search(
            path,
            algorithm="random_search",
            run_dir=Path(tmp) / "run",
            seed=args.seed,
            simulate=True,
            evaluations=args.evaluations,
            simulator=simulator,
        )
        started = time.perf_counter()
        report = anyio.run(search.run)
        elapsed = time.perf_counter() - started
    log = search.simulator.request_log()
    answered = sorted(r.at_s for r in log if r.status == 200)
    limited = sum(1 for r in log if r.status == 429)
    first = answered[0]
    minutes = []
    start = first
    while start + 60 <= answered[-1]:
        minutes.append(sum(1 for t in answered if start <= t < start + 60))
        start += 60
    steady = minutes[1:] or minutes
    return {
        "rpm": args.rpm,
        "parallel": args.parallel,
        "budget_calls": args.budget_calls,
        "sent_calls": report["sent"]["calls"],
        "overshoot": report["sent"]["calls"] - args.budget_calls,
        "stopped_by": report["stopped_by"],
        "evaluations_recorded": report["evaluations"],
        "requests": len(log),
        "answered": len(answered),
        "rate_limited_429": limited,
        "share_429": round(limited / max(1, len(log)), 5),
        "answered_per_minute": minutes,
        "limit_use_after_first_minute": round(sum(steady) / (len(steady) * args.rpm), 4),
        "limit_use_first_minute": round(minutes[0] / args.rpm, 4) if minutes else None,
        "wall_s": round(elapsed, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rpm", type=int, default=600)
    parser.add_argument("--budget-calls", type=int, default=2500)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--evaluations", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
