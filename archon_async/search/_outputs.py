"""What a finished (or stopped) search leaves in its run directory.

``best.json`` (the best architecture as a plain Archon config, a base URL's password as
``***``), ``pareto.json`` and
``pareto.svg`` (score against cost per query), ``report.json`` (what was searched, the
best, the spend, and in oracle mode the true best, ``regret`` and ``evaluations_to_best``)
and ``report.html``, a self-contained page: the search curve, the Pareto front, the
leaderboard and the spend by model (the pictures and the page are drawn in
`archon_async.search._report_html`).
"""

from __future__ import annotations

from typing import Any

from .._pricing import usd
from .._redact import redacted_urls
from ._record import Evaluation, RunRecord
from ._report_html import pareto_svg, report_html
from ._space import Candidate, Space
from ._spend import SPEND_JOURNAL, add_by_model
from ._truth import Truth

__all__ = ["pareto_front", "write_outputs"]


def pareto_front(evaluations: list[Evaluation], cost: str) -> list[Evaluation]:
    """The evaluations no other beats on both score (higher) and ``cost`` (lower)."""
    ordered = sorted(evaluations, key=lambda e: (getattr(e, cost), -e.score, e.n))
    front: list[Evaluation] = []
    for evaluation in ordered:
        if not front or evaluation.score > front[-1].score:
            front.append(evaluation)
    return front


def write_outputs(
    record: RunRecord,
    space: Space,
    head: dict[str, Any],
    truth: Truth | None,
    *,
    chosen: str | None = None,
) -> dict[str, Any]:
    """Write every output; returns the report. ``chosen``: the key of the architecture
    the search returns (the final ranking's choice), else the best objective evaluated."""
    evaluations = sorted(record.evaluations.values(), key=lambda e: e.n)
    report: dict[str, Any] = dict(head)
    report["evaluations"] = len(evaluations)
    if not evaluations:
        report["best"] = None
        record.save_json("report.json", report)
        return report
    best = max(evaluations, key=lambda e: (e.objective, -e.n))
    if chosen is not None:
        best = record.evaluations[chosen]
    candidate = Candidate.from_params(best.params)
    config = space.archon_config(candidate, name=f"itas-best-{best.key}")
    # A model's URL password is a secret: written as ***, which an engine refuses to run
    # until it is put back (`check_base_urls`).
    record.save_json("best.json", redacted_urls(config))
    report["best"] = {k: v for k, v in best.to_json().items() if k != "per_model"}
    report["spend"] = _spend(record, evaluations)
    # Dollars only when every model has a price: a missing price is no $0 anchor.
    missing = sorted({model for e in evaluations for model in e.unpriced_models})
    if missing:
        report["unpriced_models"] = missing
    priced = not missing and any(e.dollars_per_query for e in evaluations)
    cost = "dollars_per_query" if priced else "calls_per_query"
    front = pareto_front(evaluations, cost)
    record.save_json(
        "pareto.json",
        {
            "simulated": bool(head.get("simulated")),  # read alone, it says so too
            "mode": head.get("mode"),
            "cost": cost,
            **({"unpriced_models": missing} if missing else {}),
            "front": [
                {"key": e.key, "score": e.score, cost: getattr(e, cost), "params": e.params}
                for e in front
            ],
        },
    )
    marker = "SIMULATED: " if head.get("simulated") else ""
    (record.run_dir / "pareto.svg").write_text(pareto_svg(evaluations, front, cost, marker))
    if truth is not None:
        report.update(_truth_report(space, truth, evaluations, best))
        if chosen is not None:
            # What returning the best dev score would have cost, for comparison.
            top = max(evaluations, key=lambda e: (e.objective, -e.n))
            true_best = report["true_best"]["score"]
            top_score = truth.score(Candidate.from_params(top.params))
            report["dev_best"] = {"key": top.key, "regret": round(true_best - top_score, 6)}
    record.save_json("report.json", report)
    (record.run_dir / "report.html").write_text(report_html(report, evaluations, front, cost))
    return report


def _spend(record: RunRecord, evaluations: list[Evaluation]) -> dict[str, Any]:
    """What the search sent (cache hits cost nothing), in all and by model, over every run
    of it: the architectures and their judging, plus what no evaluation owns (the model
    ranking, the baseline's answers, racing, the held-out scoring), so the models' rows sum
    to the totals. A search that made calls has a spend journal (`SPEND_JOURNAL`), the
    record of every request before it was sent: its totals are the spend, as the budget's
    hard cap counts them, and ``unrecorded`` is what killed runs sent that no record
    holds (evaluations cut short, whose answers the cache gave their rerun, and the calls
    in flight at the kill)."""
    from ..callpath import SpendJournal

    models: dict[str, dict[str, float]] = {}
    for e in evaluations:
        add_by_model(models, e.per_model)
    outside = record.load_json("outside_spend.json") or {}
    add_by_model(models, outside)
    recorded = [sum(u[what] for u in models.values()) for what in ("calls", "tokens", "dollars")]
    journal = SpendJournal.by_model(record.run_dir / SPEND_JOURNAL)
    if journal is not None:
        models = {
            model or "(not recorded)": {
                "calls": sent.calls,
                "tokens": sent.tokens,
                "dollars": usd(sent.cost_usd),
            }
            for model, sent in journal.items()
        }
    rows = models.values()
    spend: dict[str, Any] = {
        "calls": int(sum(u["calls"] for u in rows)),
        "tokens": int(sum(u["tokens"] for u in rows)),
        "dollars": usd(sum(u["dollars"] for u in rows)),
        "outside_evaluations": {  # the same three as the totals
            "calls": int(sum(u.get("calls", 0) for u in outside.values())),
            "tokens": int(sum(u.get("tokens", 0) for u in outside.values())),
            "dollars": usd(sum(u.get("dollars", 0.0) for u in outside.values())),
        },
    }
    if journal is not None:
        spend["unrecorded"] = {
            "calls": max(0, spend["calls"] - int(recorded[0])),
            "tokens": max(0, spend["tokens"] - int(recorded[1])),
            "dollars": _difference(spend["dollars"], recorded[2]),
            "in_flight_at_a_kill": sum(sent.unfinished for sent in journal.values()),
        }
    spend["by_model"] = dict(sorted(models.items()))
    return spend


def _difference(total: float, part: float) -> float:
    """``total - part`` in dollars, 0 within their rounding: rows are kept to 6 significant
    digits (`usd`), so sums of them differ by a few millionths of the total."""
    gap = total - part
    return usd(gap) if gap > 1e-5 * total else 0.0


def _truth_report(
    space: Space, truth: Truth, evaluations: list[Evaluation], best: Evaluation
) -> dict[str, Any]:
    table = truth.table()
    top = int(table.argmax())
    true_best = space.candidates[top]
    found_at = next((e.n for e in evaluations if e.key == true_best.key()), None)
    return {
        "true_best": {
            "key": true_best.key(),
            "params": true_best.params(),
            "score": round(float(table[top]), 6),
        },
        "found": {"key": best.key, "score": best.score},
        "regret": round(float(table[top]) - truth.score(Candidate.from_params(best.params)), 6),
        "evaluations_to_best": found_at,
    }
