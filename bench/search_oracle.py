"""Search algorithms against the exact simulated truth (``--simulate --oracle``), over seeds.

    .venv/bin/python bench/search_oracle.py                       # every algorithm, 100 seeds
    .venv/bin/python bench/search_oracle.py --algorithms slice_search tpe --seeds 20
    .venv/bin/python bench/search_oracle.py --calls 10 20 30 40 50  # one space per call budget
    .venv/bin/python bench/search_oracle.py --first-seed 100 --seeds 100  # fresh seeds 100-199

For each call budget the space is Archon's axes over eight of Archon's published models
(top-K 1-8, samples 1-5, three fusion layers of 0-5 fusers) plus ours (critic, ranker of
top 3 or 5 before each fusion layer, final verifier or unit tests), with the default
simulated effects, seed 0. The truth table (exact expected score of every feasible
architecture) is computed once; each search then runs the algorithm's own generator with
batches of ``--parallel`` (as `Search` does) and its proposals are scored from the table.
A search "finds the best" when it evaluates the table's argmax within ``--evaluations``.
With ``--noise SD`` the algorithm sees each score plus Gaussian noise of SD points (seeded),
as a dev subset's score would be, and the table adds the regret (true points below the
true best) of the architecture it would keep, the best observed one.
Writes a Markdown table on stdout and the raw numbers to ``--output`` (JSON).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import orjson

from archon_async.search import Space
from archon_async.search._algorithms import make_algorithm
from archon_async.search._open_space import open_space_file, ranked_truth

ALGORITHMS = ["slice_search", "tpe", "greedy_search", "random_search", "grid_search"]
#: Evaluations the paper's Bayesian optimisation needed to reach the best architecture at
#: 10-50 calls per query (Archon, Saad-Falcon et al. 2024, ITAS results); the target is a
#: quarter of these.
PAPER_BO = {10: 254, 20: 386, 30: 452, 40: 515, 50: 589}


# The space and its exact scores live in the package, where the tests use them too.
space_file = open_space_file
truth_of = ranked_truth


def one_search(
    space: Space,
    table: np.ndarray,
    algorithm: str,
    seed: int,
    budget: int,
    parallel: int,
    noise: float = 0.0,
) -> tuple[int | None, float]:
    """After how many evaluations the true best was first evaluated (None: never within
    ``budget``), and the regret of the best observed architecture at the end."""
    best = space.candidates[int(table.argmax())]
    scores: dict[object, float] = {}
    draws = np.random.default_rng(10_000 + seed)
    count, hit = 0, None
    for batch in make_algorithm(algorithm, space, scores, seed=seed, batch=parallel):  # type: ignore[arg-type]
        batch = batch[: budget - count]
        for candidate in batch:
            count += 1
            if candidate == best and hit is None:
                hit = count
        for candidate in batch:
            scores[candidate] = float(table[space.index(candidate)]) + noise * draws.normal()
        if count >= budget or (hit is not None and not noise):
            break
    kept = max(scores, key=lambda c: scores[c])
    return hit, float(table.max() - table[space.index(kept)])  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithms", nargs="+", default=ALGORITHMS)
    parser.add_argument("--seeds", type=int, default=100, help="how many seeds")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run from this one")
    parser.add_argument("--evaluations", type=int, default=100)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--calls", type=int, nargs="+", default=[30])
    parser.add_argument("--noise", type=float, default=0.0, help="score noise SD (points)")
    parser.add_argument("--output", type=Path, default=Path("bench/out/search_oracle.json"))
    args = parser.parse_args()
    results = []
    extra = " median regret of the kept one | 90th pct regret |" if args.noise else ""
    print(
        "| calls/query | feasible | algorithm | found (of seeds) | median evals to best "
        "| 90th pct | s per search | quarter of the paper's BO |" + extra
    )
    print("|---|---|---|---|---|---|---|---|" + ("---|---|" if args.noise else ""))
    for calls in args.calls:
        space, table = truth_of(calls)
        for algorithm in args.algorithms:
            started = time.perf_counter()
            ends = [
                one_search(
                    space, table, algorithm, seed, args.evaluations, args.parallel, args.noise
                )
                for seed in range(args.first_seed, args.first_seed + args.seeds)
            ]
            hits = [hit for hit, _ in ends]
            regrets = sorted(regret for _, regret in ends)
            elapsed = (time.perf_counter() - started) / args.seeds
            found = [h for h in hits if h is not None]
            # A search that never found it counts as beyond the budget for the percentiles.
            padded = sorted(h if h is not None else args.evaluations + 1 for h in hits)
            median = statistics.median(padded)
            p90 = padded[int(0.9 * (len(padded) - 1))]
            show = lambda v: str(v) if v <= args.evaluations else f">{args.evaluations}"  # noqa: E731
            print(
                f"| {calls} | {len(space)} | {algorithm} | {len(found)} / {args.seeds} | "
                f"{show(median)} | {show(p90)} | {elapsed:.2f} | "
                f"{PAPER_BO[calls] / 4 if calls in PAPER_BO else '-'} |"
                + (
                    f" {statistics.median(regrets):.2f} | "
                    f"{regrets[int(0.9 * (len(regrets) - 1))]:.2f} |"
                    if args.noise
                    else ""
                )
            )
            sys.stdout.flush()
            results.append(
                {
                    "calls": calls,
                    "feasible": len(space),
                    "algorithm": algorithm,
                    "seeds": args.seeds,
                    "first_seed": args.first_seed,
                    "evaluations": args.evaluations,
                    "parallel": args.parallel,
                    "noise": args.noise,
                    "hits": hits,
                    "regrets": regrets,
                }
            )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
