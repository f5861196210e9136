"""Searches on noisy scores from sampled questions, against the exact simulated truth.

    .venv/bin/python bench/search_sampled.py                      # 20 seeds, 200 evaluations
    .venv/bin/python bench/search_sampled.py --seeds 5 --dev 100 --final 100 --top 10
    .venv/bin/python bench/search_sampled.py --summarize bench/out/a.json bench/out/b.json

Each seed is one ``Search(simulate=True, oracle=True, sampled=True, seed=s)``: the world
(the simulated effects), the dev and final-ranking question subsets of GSM8K and the
algorithm are all seeded by ``s``; the space is `search_oracle`'s at ``--calls`` per query
(26,064 architectures at 20). Every evaluation runs the architecture on the dev
questions, each question's outcome drawn from the simulated effects (`SampledEvaluator`:
the same distribution as a run on the simulated provider through the engine, which
``tests/simulate/test_grounded.py`` checks, and shared between architectures that share
stages, as the response cache shares calls). The model ranking (each model alone on
``--power`` of the benchmark) is noisy too; the ``--top`` best by dev score are re-scored on
``--final`` new questions, which choose the result. Regret =
exact score of the true best - exact score of the architecture the search returns, in
points; the true best is the best of the space under the true model ranking (a noisy
ranking can only make the space searched worse). Also reported: the regret of the raw best
final-ranking score (the rule before the pooled estimate), of the best dev score alone
(without the final ranking), and the floor of any choice among the finalists (the best of
them by exact score). Writes a Markdown table and the raw numbers
(``--output``, JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from archon_async.search import Effects, Search, Truth
from archon_async.search._space import Candidate, Space

sys.path.insert(0, str(Path(__file__).parent))
from race_variants import capture, replay
from search_oracle import space_file


def one_seed(args: argparse.Namespace, seed: int, root: Path) -> dict[str, Any]:
    data = space_file(args.calls)
    extension = dict(data["archon_async"])  # type: ignore[call-overload]
    extension |= {
        "algorithm": args.algorithm,
        "evaluations": args.evaluations,
        "dev_questions": args.dev,
        "held_out_questions": args.final,
        # Regret is read from the exact truth: no held-out report set (the dev and final
        # sets take all of GSM8K's 1,319 at the defaults, which a search now refuses
        # unless the report set is turned off).
        "report_questions": 0,
        "parallel": args.parallel,
        "racing": {
            "enabled": args.draws > 0,
            "leaders": args.leaders,
            "leader_questions": args.leader_questions or None,
            "draws": max(1, args.draws),
            "second_looks": args.second_looks,
            "predicted_finalists": args.predicted_finalists,
            "first_passes": args.first_passes,
        },
    }
    data |= {
        "archon_async": extension,
        "number_of_archon_configs_for_final_ranking": args.top,
        "dataset_sample_for_power_ranking": args.power,
    }
    path = root / f"space-{seed}.json"
    path.write_text(json.dumps(data))
    search = Search(
        path, simulate=True, oracle=True, sampled=True, seed=seed, run_dir=root / f"run-{seed}"
    )
    started = time.perf_counter()
    with capture() as captured:
        report = asyncio.run(search.run())
    elapsed = time.perf_counter() - started
    row = _regrets(search, report, root / f"run-{seed}", elapsed)
    if args.variants and captured:
        row["variants"] = _variants(args, search, report, captured[0], row)
    return row


def _variants(
    args: argparse.Namespace,
    search: Search,
    report: dict[str, Any],
    state: tuple[Any, dict[str, int]],
    row: dict[str, Any],
) -> dict[str, Any]:
    """Each final-race variant's regret and questions, replayed on this search's finalists
    (`race_variants`); ``same`` must choose what the search chose."""
    race, counted = state
    truth = race.evaluator.truth
    out = replay(
        race,
        counted,
        args.top,
        args.variants.split(","),
        lambda e: truth.score(Candidate.from_params(e.params)),
    )
    found = truth.score(Candidate.from_params(report["best"]["params"]))
    for result in out.values():  # measured as the search's own regret is
        result["regret"] = round(row["regret"] + found - result.pop("exact"), 4)
    if "same" in out and out["same"]["key"] != report["best"]["key"]:
        raise AssertionError(f"seed {search.seed}: the replay chose otherwise than the search")
    return out


def _regrets(search: Search, report: dict[str, Any], run: Path, elapsed: float) -> dict[str, Any]:
    """Regret against the true best of the space under the true model ranking."""
    effects: Effects = search.effects
    ranking = orjson.loads((run / "ranking.json").read_bytes())
    noisy = sorted(search.models, key=lambda m: -float(ranking[m.model]))
    space = Space(search.settings, noisy)
    truth = Truth(space, effects, judged=False)
    true_order = sorted(search.models, key=lambda m: -truth.model_score(m.model))
    best_true_order = report["true_best"]["score"]
    if true_order != noisy:
        # Same candidates, other model order: the space a noise-free ranking gives.
        other = copy.copy(space)
        other.models = tuple(true_order)
        best_true_order = float(Truth(other, effects, judged=False).table().max())
    best = max(best_true_order, report["true_best"]["score"])
    found = truth.score(Candidate.from_params(report["best"]["params"]))
    dev_best = found  # without a final ranking the search returns its best dev score
    if "dev_best" in report:
        dev_best = report["true_best"]["score"] - report["dev_best"]["regret"]
    evaluated = [orjson.loads(line) for line in (run / "leaderboard.jsonl").read_bytes().split()]
    exact_of = {e["key"]: truth.score(Candidate.from_params(e["params"])) for e in evaluated}
    best_evaluated = max(exact_of.values())
    params = {e["key"]: e["params"] for e in evaluated}
    final = report.get("final_ranking") or [{"key": report["best"]["key"], "score": 0, "n": 0}]
    exact = {e["key"]: truth.score(Candidate.from_params(params[e["key"]])) for e in final}
    # What each stage of the final ranking's successive halving would return, were it the
    # last: its best by the objective it ranked them by (a search with fewer ``draws``
    # stops there with the same draws, so one search gives every shorter race's choice).
    stages = max((len(e.get("stage_objectives", [])) for e in final), default=0)
    by_stage = [
        max(
            (e for e in final if len(e["stage_objectives"]) > s),
            key=lambda e: (e["stage_objectives"][s], -e["n"]),
        )["key"]
        for s in range(stages)
    ]
    # The pooled estimate's choice (reported beside each finalist; it does not choose).
    pooled = max(final, key=lambda e: (e.get("estimate", e)["score"], -e["n"]))["key"]
    # Spend: questions answered (architecture x question runs) by the evaluations and by
    # the re-evaluations (racing), and the calls they stand for (each run's calls alone).
    kept = run / "racing.json"
    extra = orjson.loads(kept.read_bytes()) if kept.exists() else {}
    calls = {e["key"]: e["calls_per_query"] for e in evaluated}
    spend = {
        "evaluation_questions": sum(e["questions"] for e in evaluated),
        "racing_questions": sum(len(v) for v in extra.values()),
        "evaluation_calls": round(sum(e["calls_per_query"] * e["questions"] for e in evaluated)),
        "racing_calls": round(sum(calls[k] * len(v) for k, v in extra.items())),
    }
    return {
        "seed": search.seed,
        "lost": _lost(evaluated, exact_of, extra, final, best),
        # Did the search evaluate something near the best at all (the algorithm's part)?
        "regret_best_evaluated": round(best - best_evaluated, 4),
        "regret": round(best - found, 4),
        "regret_dev_best": round(best - dev_best, 4),
        "regret_pooled": round(best - exact[pooled], 4),
        "regret_by_stage": [round(best - exact[key], 4) for key in by_stage],
        # The floor of any rule choosing among these finalists: the best of them exactly.
        "regret_floor": round(best - max(exact.values()), 4),
        # Against the best of the space the search's own model ranking gave.
        "regret_in_space": report["regret"],
        "ranking_exact": true_order == noisy,
        "true_best": round(best, 4),
        "found": report["best"]["key"],
        "evaluations": report["evaluations"],
        **spend,
        "seconds": round(elapsed, 2),
    }


def _lost(
    evaluated: list[dict[str, Any]],
    exact: dict[str, float],
    extra: dict[str, list[float]],
    final: list[dict[str, Any]],
    best: float,
) -> list[dict[str, Any]]:
    """The evaluated architectures within 0.5 points of the best evaluated that did not
    become finalists, and why: each one's regret, proposal place, dev score and its rank
    among the full dev scores, whether it was stopped early, and the questions it was
    re-evaluated on (0: never a leader)."""
    top = max(exact.values())
    finalists = {e["key"] for e in final}
    order = sorted(
        (e for e in evaluated if not e["stopped_early"]), key=lambda e: (-e["score"], e["n"])
    )
    rank = {e["key"]: i + 1 for i, e in enumerate(order)}
    return [
        {
            "regret": round(best - exact[e["key"]], 2),
            "n": e["n"],
            "dev_score": round(e["score"], 2),
            "dev_rank": rank.get(e["key"]),
            "stopped_early": e["stopped_early"],
            "re_evaluated": len(extra.get(e["key"], [])),
        }
        for e in sorted(evaluated, key=lambda e: -exact[e["key"]])
        if exact[e["key"]] >= top - 0.5 and e["key"] not in finalists
    ]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def _table(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    # Median and 90th percentile of each: what the search returns, the pooled estimate's
    # choice, the best dev score's, the floor (best finalist exactly), the best evaluated.
    columns = ("regret", "regret_pooled", "regret_dev_best", "regret_floor")
    columns += ("regret_best_evaluated",)
    cells = " | ".join(
        f"{statistics.median(v):.2f} / {_pct(v, 0.9):.2f}"
        for v in ([r.get(c, r["regret"]) for r in rows] for c in columns)
    )
    spend = " | ".join(
        f"{statistics.mean(r.get(c, 0) for r in rows):,.0f}"
        for c in ("evaluation_questions", "racing_questions", "evaluation_calls", "racing_calls")
    )
    print(
        "| algorithm | calls/query | dev + final questions | top re-scored | seeds "
        "| regret median / 90th pct | pooled estimate's choice | best dev score "
        "| floor (best finalist exactly) | best evaluated | questions: evaluations "
        "| questions: racing | calls: evaluations | calls: racing | s per search |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.algorithm} | {args.calls} | {args.dev} + {args.final} | {args.top} "
        f"| {len(rows)} | {cells} | {spend} | {statistics.mean(r['seconds'] for r in rows):.1f} |"
    )
    _split_table(rows)
    _variant_table(rows)
    staged = [r["regret_by_stage"] for r in rows if r.get("regret_by_stage")]
    if staged and all(len(s) == len(staged[0]) for s in staged):
        # Each stage's choice, as if the race had ended there (the first on
        # ``first_passes`` passes, then twice as many each stage).
        print(
            "\n| stage (passes) | "
            + " | ".join(f"{k + 1} ({args.first_passes * 2**k})" for k in range(len(staged[0])))
            + " |"
        )
        print("|---|" + "---|" * len(staged[0]))
        print(
            "| regret median / 90th pct | "
            + " | ".join(
                f"{statistics.median(v):.2f} / {_pct(v, 0.9):.2f}"
                for v in ([s[k] for s in staged] for k in range(len(staged[0])))
            )
            + " |"
        )


def _split_table(rows: list[dict[str, Any]]) -> None:
    """Where each seed's regret is lost: the exploration (the best evaluated at all), the
    finalists (the best finalist exactly against the best evaluated), the final race (what
    it returned against the best finalist); and why the best evaluated was no finalist."""
    parts = {
        "exploration (best evaluated)": [r["regret_best_evaluated"] for r in rows],
        "finalists (floor - best evaluated)": [
            r["regret_floor"] - r["regret_best_evaluated"] for r in rows
        ],
        "final race (returned - floor)": [r["regret"] - r["regret_floor"] for r in rows],
    }
    print("\n| part of the regret | median / 90th | mean | seeds above 0.1 |")
    print("|---|---|---|---|")
    for name, values in parts.items():
        print(
            f"| {name} | {statistics.median(values):.2f} / {_pct(values, 0.9):.2f} "
            f"| {statistics.mean(values):.2f} | {sum(v > 0.1 for v in values)} |"
        )
    # The best evaluated out of the finalists (`lost`'s first entry is it, when it is).
    why = {"never re-evaluated": 0, "stopped early": 0, "re-evaluated, not a finalist": 0}
    for r in rows:
        lost = r.get("lost") or []
        if lost and abs(lost[0]["regret"] - r["regret_best_evaluated"]) < 0.006:
            if lost[0]["stopped_early"]:
                why["stopped early"] += 1
            elif lost[0]["re_evaluated"]:
                why["re-evaluated, not a finalist"] += 1
            else:
                why["never re-evaluated"] += 1
    print(
        f"\nThe best evaluated was no finalist on {sum(why.values())} of {len(rows)} seeds: "
        + ", ".join(f"{k} {n}" for k, n in why.items())
        + "."
    )


def _variant_table(rows: list[dict[str, Any]]) -> None:
    """Each replayed final-race variant: regret median / 90th, mean, seeds within 0.5,
    better / worse than the search's own race, and race questions a search (mean)."""
    names = [
        n for n in rows[0].get("variants", {}) if all(n in r.get("variants", {}) for r in rows)
    ]
    if not names:
        return
    print(
        "\n| final race (replayed) | regret median / 90th | mean | within 0.5 "
        "| better / worse than the search's | race questions a search |"
    )
    print("|---|---|---|---|---|---|")
    for name in names:
        values = [r["variants"][name]["regret"] for r in rows]
        better = sum(v < r["regret"] - 1e-9 for v, r in zip(values, rows, strict=True))
        worse = sum(v > r["regret"] + 1e-9 for v, r in zip(values, rows, strict=True))
        spend = statistics.mean(r["variants"][name]["questions"] for r in rows)
        print(
            f"| {name} | {statistics.median(values):.2f} / {_pct(values, 0.9):.2f} "
            f"| {statistics.mean(values):.2f} | {sum(v <= 0.5 for v in values)} "
            f"| {better} / {worse} | {spend:,.0f} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--evaluations", type=int, default=200)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--algorithm", default="slice_search")
    parser.add_argument("--dev", type=int, default=200, help="dev questions")
    parser.add_argument("--final", type=int, default=1119, help="final-ranking questions")
    parser.add_argument("--top", type=int, default=10, help="architectures in the final ranking")
    parser.add_argument("--power", type=float, default=1.0, help="power-ranking share")
    parser.add_argument("--leaders", type=int, default=6, help="racing: leaders kept")
    parser.add_argument(
        "--leader-questions", type=int, default=0, help="racing: their questions (0: one pass)"
    )
    parser.add_argument(
        "--second-looks", type=int, default=0, help="racing: the model's best re-evaluated"
    )
    parser.add_argument(
        "--predicted-finalists", type=int, default=8, help="racing: the model's best raced too"
    )
    parser.add_argument(
        "--first-passes", type=int, default=4, help="racing: passes of the final's first stage"
    )
    parser.add_argument("--draws", type=int, default=32, help="racing: passes (0: racing off)")
    parser.add_argument(
        "--variants", default="", help="final-race variants replayed (race_variants.VARIANTS)"
    )
    parser.add_argument("--summarize", type=Path, nargs="*", help="only summarize outputs")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--output", type=Path, default=Path("bench/out/search_sampled.json"))
    parser.add_argument(
        "--keep", type=Path, help="keep each seed's run directory under this folder"
    )
    args = parser.parse_args()
    if args.summarize:
        outputs = [orjson.loads(path.read_bytes()) for path in args.summarize]
        rows = [row for output in outputs for row in output["rows"]]
        # The settings the runs had (the table's labels), not this command's defaults.
        args.first_passes = int(outputs[0]["args"].get("first_passes", args.first_passes))
        _table(args, rows)
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            rows.append(one_seed(args, seed, root))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    _table(args, rows)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(
        orjson.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
