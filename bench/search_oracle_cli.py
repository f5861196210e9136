"""The oracle searches a user runs: `Search(..., simulate=True, oracle=True, seed=N)`, the
same as ``archon-async search SPACE --simulate --oracle --seed N``, over seeds.

    .venv/bin/python bench/search_oracle_cli.py --calls 20 --first-seed 0 --seeds 100

Unlike bench/search_oracle.py (one simulated world, the default effects of seed 0, and the
algorithm's own generator), each search here is the whole command: the space file of
`archon_async.search._open_space` (Archon's axes and ours over eight models, under
``--calls`` per query; slice_search, 12 + 88 evaluations, 4 at once), its simulated effects
seeded by the search's seed as the command seeds them (so every seed is its own world, with
its own true best), the model ranking, and `report.json`'s ``evaluations_to_best``.
Writes a Markdown row on stdout and the per-seed figures to ``--output`` (JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from archon_async.search import Search
from archon_async.search._open_space import open_space_file

#: Evaluations the paper's Bayesian optimisation needed at 10-50 calls per query (Archon,
#: Saad-Falcon et al. 2024); the target is a quarter of these.
PAPER_BO = {10: 254, 20: 386, 30: 452, 40: 515, 50: 589}


def space_file(calls: int, algorithm: str, evaluations: int, folder: Path) -> Path:
    """The open space under ``calls`` as a search file the command reads."""
    data = open_space_file(calls)
    data["search_algorithm_choice"] = algorithm
    data["init_points"], data["n_iter"] = 12, evaluations - 12
    path = folder / f"open_space_{calls}_calls.json"
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    return path


def one_search(path: Path, seed: int, folder: Path) -> dict[str, object]:
    """One search as the command runs it; the report's figures that measure it."""
    search = Search(path, simulate=True, oracle=True, seed=seed, run_dir=folder / f"run-{seed}")
    report = asyncio.run(search.run())
    return {
        "seed": seed,
        "space_size": report["space_size"],
        "evaluations": report["evaluations"],
        "evaluations_to_best": report["evaluations_to_best"],
        "regret": report["regret"],
        "true_best": report["true_best"]["key"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--algorithm", default="slice_search")
    parser.add_argument("--evaluations", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path("bench/out/search_oracle_cli.json"))
    args = parser.parse_args()
    started = time.perf_counter()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    with tempfile.TemporaryDirectory() as tmp:
        path = space_file(args.calls, args.algorithm, args.evaluations, Path(tmp))
        rows = [one_search(path, seed, Path(tmp)) for seed in seeds]
    hits = [row["evaluations_to_best"] for row in rows]
    found = [hit for hit in hits if hit is not None]
    padded = sorted(int(hit) if hit is not None else args.evaluations + 1 for hit in hits)  # type: ignore[call-overload]
    show = lambda v: str(v) if v <= args.evaluations else f">{args.evaluations}"  # noqa: E731
    print(
        "| calls/query | feasible | algorithm | seeds | found | median evals to best "
        "| 90th pct | distinct true bests | s per search | quarter of the paper's BO |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.calls} | {rows[0]['space_size']} | {args.algorithm} | "
        f"{args.first_seed}-{args.first_seed + args.seeds - 1} | {len(found)} / {len(rows)} | "
        f"{show(statistics.median(padded))} | {show(padded[int(0.9 * (len(padded) - 1))])} | "
        f"{len({row['true_best'] for row in rows})} | "
        f"{(time.perf_counter() - started) / len(rows):.2f} | "
        f"{PAPER_BO.get(args.calls, 0) / 4 or '-'} |"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
