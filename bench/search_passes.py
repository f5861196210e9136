"""An engine search on the simulated provider: its race's passes, calls sent and regret.

    .venv/bin/python bench/search_passes.py --seeds 3 --output bench/out/passes.json
    PYTHONPATH=/path/to/older/checkout .venv/bin/python bench/search_passes.py ...  # before

Each seed runs ``Search(SPACE, simulate=True, seed=s)`` through the engine against the
simulated provider (every call sent, the response cache in the run directory), on a small
space (`--space small`: tests/search/_spaces.py's GSM8K space over four of Archon's models,
or `--space example`: Archon's example search file shipped in the package), then reads
what it sent (``report.json``'s ``sent``), what racing answered, and the regret: the exact
expected score (`Truth`, the simulator's own ground truth) of the true best of the space
under the search's model ranking, less that of the architecture it returned, in points.
``--estimate`` is taken first, so its error against the calls sent is reported too. Run it
with another checkout first on ``PYTHONPATH`` to measure that code (the script only uses
what main had before the race passes). ``race_calls``: what racing's re-evaluations sent
(counted around each, as they run one at a time), ``race_share``: over the rest of what
the search sent; ``--max-share`` sets ``racing.max_share`` (``none``: unbounded; unset:
the checkout's default), ``--leaders`` sets ``racing.leaders``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from archon_async.search import EXAMPLE_SEARCH_CONFIG, Search, Truth
from archon_async.search._space import Candidate, Space

sys.path.insert(0, str(Path(__file__).parent.parent))
from tests.search._spaces import small_space


def _space_file(args: argparse.Namespace, root: Path) -> Path:
    if args.space == "example":
        data = json.loads(Path(EXAMPLE_SEARCH_CONFIG).read_text())
        data["archon_async"] = {}
    else:
        data = small_space()
    data["archon_async"] |= {
        "evaluations": args.evaluations,
        "dev_questions": args.dev,
        "held_out_questions": args.final,
        "report_questions": args.report,
        "parallel": args.parallel,
        "algorithm": args.algorithm,
    }
    racing: dict[str, Any] = {}
    if args.max_share is not None:
        racing["max_share"] = None if args.max_share == "none" else float(args.max_share)
    if args.leaders is not None:
        racing["leaders"] = args.leaders
    if args.first_passes is not None:
        racing["first_passes"] = args.first_passes
    if args.predicted is not None:
        racing["predicted_finalists"] = args.predicted
    if racing:
        data["archon_async"]["racing"] = racing
    data["number_of_archon_configs_for_final_ranking"] = args.top
    path = root / "space.json"
    path.write_text(json.dumps(data))
    return path


def one_seed(args: argparse.Namespace, seed: int, root: Path) -> dict[str, Any]:
    path = _space_file(args, root)
    run = root / f"run-{seed}"

    def search() -> Search:
        return Search(path, simulate=True, seed=seed, run_dir=run)

    estimate = search().estimate()
    if args.cache_from:  # a kept run's cache: its answers are free (screening only)
        run.mkdir(parents=True, exist_ok=True)
        for kept in (args.cache_from / str(seed) / f"run-{seed}").glob("cache.sqlite*"):
            shutil.copy(kept, run / kept.name)
    started = time.perf_counter()
    running = search()
    race = _count_race(running)
    report = anyio.run(running.run)
    elapsed = time.perf_counter() - started
    current = search()
    ranking = json.loads((run / "ranking.json").read_text())
    ranked = sorted(current.models, key=lambda m: -float(ranking[m.model]))
    space = Space(current.settings, ranked)
    truth = Truth(space, current.effects, judged=current._benchmark.scoring == "judge")
    best = float(truth.table().max())
    found = truth.score(Candidate.from_params(report["best"]["params"]))
    kept = run / "racing.json"
    racing = json.loads(kept.read_text()) if kept.exists() else {}
    final = report.get("final_ranking") or []
    params = {e["key"]: e["params"] for e in map(json.loads, _lines(run / "leaderboard.jsonl"))}
    exact = [truth.score(Candidate.from_params(params[e["key"]])) for e in final]
    return {
        "seed": seed,
        "calls": report["sent"]["calls"],
        "cache_hits": report["sent"]["cache_hits"],
        "estimate_calls": estimate["calls"]["expected"],
        "tokens": report["sent"]["tokens"],
        "dollars": report["sent"]["dollars"],
        "estimate_tokens": estimate["tokens"]["expected"],
        "estimate_dollars": estimate["dollars"]["expected"],
        "estimate_low_high": [estimate["calls"]["low"], estimate["calls"]["high"]],
        "estimate_dollars_low_high": [estimate["dollars"]["low"], estimate["dollars"]["high"]],
        "estimate_paths": (estimate.get("paths") or {}).get("calls"),
        # A model-based algorithm's walked runs, 10th to 90th percentile (calls, dollars).
        "estimate_likely": estimate["calls"].get("likely"),
        "estimate_dollars_likely": estimate["dollars"].get("likely"),
        "estimate_race_calls": (estimate.get("racing") or {}).get("calls"),
        "racing_questions": sum(len(v) for v in racing.values()),
        "final_questions": max((e["questions"] for e in final), default=0),
        "race_calls": race[0],
        "race_share": round(race[0] / max(1, report["sent"]["calls"] - race[0]), 4),
        "regret": round(best - found, 4),
        # The floor of any choice among the finalists: the best of them exactly.
        "regret_floor": round(best - max(exact, default=found), 4),
        # Each finalist (best first): the stage it reached, the positions it answered.
        "finalists": [[e["stage"], e["questions"]] for e in final],
        "share": (report.get("racing") or {}).get("share"),
        "found": report["best"]["key"],
        "held_out": (report.get("held_out") or {}).get("score"),
        "seconds": round(elapsed, 1),
        # Each finalist (as ranked): its exact expected score, in points.
        "finalists_exact": [round(x, 3) for x in exact],
    }


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


def _count_race(search: Search) -> list[int]:
    """The calls racing's re-evaluations send (`EngineEvaluator.score_questions`, which
    `score_positions` answers through, or on a checkout without it `score_positions`; one
    at a time), counted from the search's call path as each runs."""
    from archon_async.search._evaluate import EngineEvaluator

    name = "score_questions" if hasattr(EngineEvaluator, "score_questions") else "score_positions"
    original = getattr(EngineEvaluator, name)
    sent = [0]

    async def counted(self: Any, *args: Any) -> Any:
        before = search.callpath.spent().calls
        points = await original(self, *args)
        sent[0] += search.callpath.spent().calls - before
        return points

    setattr(EngineEvaluator, name, counted)
    return sent


def _variant(args: argparse.Namespace) -> None:
    """This checkout's race changed for a measurement (`--behind`, `--every-question`)."""
    if args.behind is None and not args.every_question:
        return
    from archon_async.search import _race_bounded

    if args.behind is not None:
        _race_bounded.BEHIND = args.behind
    if args.every_question:
        _race_bounded._schedule = lambda *_: None  # type: ignore[assignment]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--space", choices=("small", "example"), default="small")
    parser.add_argument("--algorithm", default="random_search", help="the search algorithm")
    parser.add_argument("--evaluations", type=int, default=16)
    parser.add_argument("--dev", type=int, default=20)
    parser.add_argument("--final", type=int, default=20)
    parser.add_argument("--report", type=int, default=20)
    parser.add_argument("--top", type=int, default=4)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--max-share", help="racing.max_share (a number, or none)")
    parser.add_argument("--leaders", type=int, help="racing.leaders (unset: the default)")
    parser.add_argument("--first-passes", type=int, help="racing.first_passes")
    parser.add_argument("--predicted", type=int, help="racing.predicted_finalists")
    parser.add_argument("--behind", type=float, help="_race_bounded.BEHIND (this checkout)")
    parser.add_argument(
        "--every-question", action="store_true", help="this checkout's race on every question"
    )
    parser.add_argument("--keep", type=Path, help="keep each seed's run directory here")
    parser.add_argument(
        "--cache-from", type=Path, help="start each run from a kept run's cache (screening)"
    )
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    _variant(args)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            root = (args.keep or Path(tmp)) / str(seed)
            root.mkdir(parents=True)
            rows.append(one_seed(args, seed, root))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({"args": vars(args) | {"output": str(args.output)},
                                           "rows": rows}, indent=1))  # fmt: skip
    names = ("calls", "race_calls", "race_share", "share", "regret", "regret_floor")
    for name in (*names, "racing_questions", "seconds"):
        values = [row[name] for row in rows if row[name] is not None]
        print(f"{name}: median {statistics.median(values)}, mean "
              f"{statistics.fmean(values):.4f}, all {values}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
