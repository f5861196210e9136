"""Calls a search sends against the naive sum, on the simulated provider (ITAS, issue 13).

    .venv/bin/python bench/search_spend.py                          # 500 architectures
    .venv/bin/python bench/search_spend.py --evaluations 100 --dev 5 --algorithm slice_search
    .venv/bin/python bench/search_spend.py --estimate --algorithm slice_search --seed 1

A search over the space of `bench/search_oracle.py` (eight of Archon's published models,
top-K 1-8, samples 1-5, three fusion layers of 0-5 fusers, critic, ranker, final stage;
``--calls`` calls per query at most) runs on the in-process simulated provider with the
response cache of its run directory. The *naive sum* is what the same evaluations would
send with no cache at all: the model ranking (each model alone on the dev questions) plus,
for every evaluated architecture, its calls on the questions it ran (cache hits included).
*Sent* is what the search's call path actually sent to the provider. With ``--estimate``,
the search's `Search.estimate()` (made before the run, as ``archon-async search
--estimate``) is printed beside it, with each figure's ratio to what the run spent
(``--estimate-only``: the estimate alone).
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
    data = space_file(args.calls)
    data["archon_async"] = {  # type: ignore[index]
        **data["archon_async"],  # type: ignore[dict-item]
        "dev_questions": args.dev,
        "held_out_questions": 0,
        "parallel": args.parallel,
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "space.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        search = Search(
            path,
            algorithm=args.algorithm,
            run_dir=Path(tmp) / "run",
            seed=args.seed,
            simulate=True,
            evaluations=args.evaluations,
        )
        estimate = None
        if args.estimate or args.estimate_only:
            started = time.perf_counter()
            estimate = search.estimate()
            estimate["wall_s"] = round(time.perf_counter() - started, 1)
            if args.estimate_only:
                return {"estimate": estimate}
        started = time.perf_counter()
        report = anyio.run(search.run)
        elapsed = time.perf_counter() - started
        lines = (Path(tmp) / "run" / "leaderboard.jsonl").read_text().splitlines()
    evaluations = [json.loads(line) for line in lines]
    spent = report["sent"]
    ranking = len(search.models) * args.dev
    per_arch = sum(round(e["calls_per_query"] * e["questions"]) for e in evaluations)
    naive = ranking + per_arch
    if estimate is not None:
        estimate["against_spent"] = {
            name: round(estimate[name]["expected"] / spent[name] - 1, 4)
            for name in ("calls", "tokens", "dollars")
            if spent.get(name)
        }
    return {
        "algorithm": args.algorithm,
        "evaluations": len(evaluations),
        "dev_questions": args.dev,
        "space_size": report["space_size"],
        "naive_calls": naive,
        "sent_calls": spent["calls"],
        "cache_hits": spent["cache_hits"],
        "ratio": round(spent["calls"] / naive, 4),
        "stopped_early": sum(1 for e in evaluations if e["stopped_early"]),
        "wall_s": round(elapsed, 1),
        "spent": {name: spent.get(name) for name in ("calls", "tokens", "dollars")},
        **({"estimate": estimate} if estimate is not None else {}),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=500)
    parser.add_argument("--dev", type=int, default=10, help="dev questions")
    parser.add_argument("--calls", type=int, default=30, help="calls per query at most")
    parser.add_argument("--algorithm", default="random_search")
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--estimate", action="store_true", help="estimate first, then run")
    parser.add_argument("--estimate-only", action="store_true", help="the estimate alone")
    args = parser.parse_args()
    result = run(args)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
