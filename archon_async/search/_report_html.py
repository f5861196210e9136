"""The pictures and the page of a search's run directory: ``pareto.svg`` (score against
cost per query), the search curve, and ``report.html``, a self-contained page with the
search curve, the Pareto front, the leaderboard, the final ranking and the spend by model.
"""

from __future__ import annotations

import html
from typing import Any

from .._pricing import usd_text
from ._axis import Axis, axis
from ._candidate import Candidate
from ._record import Evaluation

__all__ = ["pareto_svg", "report_html"]

_W, _H = 640, 360
# The plot area: room on the left for the tick labels and the rotated axis title.
_LEFT, _RIGHT, _TOP, _BOTTOM = 72, _W - 24, 36, _H - 48
# The axes' ranges a little inside the axis lines: a point at either end (a flat series
# at 0) is drawn beside the line, not on it.
_X_PIXELS, _Y_PIXELS = (_LEFT + 8, _RIGHT - 8), (_BOTTOM - 8, _TOP + 8)


def _axes(title: str, x_label: str, y_label: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" role="img" aria-label="{html.escape(title)}">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{_W / 2}" y="18" text-anchor="middle" font-size="14">'
        f"{html.escape(title)}</text>",
        f'<line x1="{_LEFT}" y1="{_BOTTOM}" x2="{_RIGHT}" y2="{_BOTTOM}" stroke="black"/>',
        f'<line x1="{_LEFT}" y1="{_BOTTOM}" x2="{_LEFT}" y2="{_TOP}" stroke="black"/>',
        f'<text x="{_W / 2}" y="{_H - 10}" text-anchor="middle" font-size="12">'
        f"{html.escape(x_label)}</text>",
        f'<text x="14" y="{_H / 2}" font-size="12" transform="rotate(-90 14 {_H / 2})" '
        f'text-anchor="middle">{html.escape(y_label)}</text>',
    ]


# A tick of each axis at pixel {at}: a mark (the y axis's: a faint grid line across the
# plot) and its label.
_TICK = {
    "x": f'<line x1="{{at:.1f}}" y1="{_BOTTOM}" x2="{{at:.1f}}" y2="{_BOTTOM + 4}" '
    f'stroke="black"/><text class="x-tick" x="{{at:.1f}}" y="{_BOTTOM + 17}" '
    'text-anchor="middle" font-size="11">{text}</text>',
    "y": f'<line x1="{_LEFT - 4}" y1="{{at:.1f}}" x2="{_RIGHT}" y2="{{at:.1f}}" stroke="#eee"/>'
    f'<text class="y-tick" x="{_LEFT - 7}" y="{{label:.1f}}" text-anchor="end" '
    'font-size="11">{text}</text>',
}


def _ticks(x: Axis, y: Axis) -> list[str]:
    """Both axes' ticks, each where its axis puts its value."""
    scales = {"x": (x, x.scale(*_X_PIXELS)), "y": (y, y.scale(*_Y_PIXELS))}
    return [
        _TICK[name].format(at=scale(value), label=scale(value) + 4, text=html.escape(text))
        for name, (each, scale) in scales.items()
        for value, text in zip(each.ticks, each.labels(), strict=True)
    ]


def pareto_svg(
    evaluations: list[Evaluation], front: list[Evaluation], cost: str, marker: str = ""
) -> str:
    """``pareto.svg``: each evaluation's score against its ``cost`` per query, the
    ``front`` joined; ``marker`` (e.g. ``SIMULATED: ``) heads the title."""
    xs = [float(getattr(e, cost)) for e in evaluations]
    ys = [e.score for e in evaluations]
    dollars = cost == "dollars_per_query"
    x_axis, y_axis = axis(xs, unit="$" if dollars else ""), axis(ys, top=100.0)
    sx, sy = x_axis.scale(*_X_PIXELS), y_axis.scale(*_Y_PIXELS)
    x_label = "list-price dollars per query" if dollars else cost.replace("_", " ")
    parts = _axes(f"{marker}Score against cost per query", x_label, "score (points)")
    parts += _ticks(x_axis, y_axis)
    parts += [
        f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="#9aa"><title>{e.key}: '
        f"{e.score:.2f}</title></circle>"
        for e, x, y in zip(evaluations, xs, ys, strict=True)
    ]
    line = " ".join(f"{sx(float(getattr(e, cost))):.1f},{sy(e.score):.1f}" for e in front)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#c33" stroke-width="2"/>')
    parts.append("</svg>")
    return "\n".join(parts)


def _curve_svg(evaluations: list[Evaluation]) -> str:
    best, running = [], float("-inf")
    for e in evaluations:
        running = max(running, e.objective)
        best.append(running)
    xs = [float(e.n) for e in evaluations]
    # Ticks on both axes from the data: a curve whose bottom is unlabelled reads as
    # rising from zero.
    x_axis = axis(xs, integer=True)
    y_axis = axis([e.objective for e in evaluations], top=100.0)
    sx, sy = x_axis.scale(*_X_PIXELS), y_axis.scale(*_Y_PIXELS)
    parts = _axes("Search curve: best objective so far", "architectures evaluated", "objective")
    parts += _ticks(x_axis, y_axis)
    parts += [
        f'<circle cx="{sx(x):.1f}" cy="{sy(e.objective):.1f}" r="2.5" fill="#9aa"/>'
        for e, x in zip(evaluations, xs, strict=True)
    ]
    line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, best, strict=True))
    parts.append(f'<polyline points="{line}" fill="none" stroke="#36c" stroke-width="2"/>')
    parts.append("</svg>")
    return "\n".join(parts)


def _fact_html(value: Any) -> str:
    """A report value as HTML a person reads: a dict or a list of dicts as a table,
    booleans as yes/no, a missing value as a dash (never a Python repr)."""
    if value is None:
        return "&mdash;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        if not value:
            return "&mdash;"
        rows = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{_fact_html(v)}</td></tr>"
            for k, v in value.items()
        )
        return f"<table>{rows}</table>"
    if isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            return "".join(_fact_html(item) for item in value)
        return html.escape(", ".join(str(item) for item in value)) or "&mdash;"
    return html.escape(str(value))


def _unpriced_html(report: dict[str, Any]) -> str:
    missing = report.get("unpriced_models")
    if not missing:
        return ""
    return (
        f'\n<p id="unpriced"><b>No list price for {html.escape(", ".join(missing))}</b>: '
        "their calls are missing from every $/query below, so the Pareto front is drawn "
        "against calls per query instead.</p>"
    )


def _chosen_html(report: dict[str, Any]) -> str:
    """Why the best is the best when the final ranking chose it: its final-ranking and
    held-out scores beside the dev score the leaderboard sorts by."""
    final = report.get("final_ranking") or []
    best = report.get("best") or {}
    if not final or final[0].get("key") != best.get("key"):
        return ""
    chosen = final[0]
    text = (
        # Not "the N best by dev score": the finalists are the best by their racing score
        # and those racing.predicted_finalists adds, whatever their own score.
        f"Chosen by Archon's final ranking of {len(final)} finalists (the best by score, and "
        "any a model of the score across the space predicts best): final score "
        f"{chosen['final']['score']:.2f} on {chosen['final']['questions']} questions"
    )
    estimate = chosen.get("estimate")
    if estimate:  # reported beside the measured score, which chose (chosen_by)
        low, high = estimate["ci"]
        text += (
            f" (pooled estimate {estimate['score']:.2f}, {low:.2f} to {high:.2f}; "
            f"best of the finalists with probability {estimate['chance_best']:.0%})"
        )
    held = report.get("held_out")
    if held:
        low, high = held["ci"]
        text += (
            f"; held-out score (never used to choose) {held['score']:.2f} "
            f"({low:.2f} to {high:.2f}) on {held['questions']} questions"
        )
    return f'<p id="chosen">{html.escape(text)}.</p>'


def _final_html(report: dict[str, Any]) -> str:
    """The final ranking as a table (best first), beside the leaderboard's dev scores."""
    final = report.get("final_ranking") or []
    if not final:
        return ""
    rows = []
    for place, entry in enumerate(final, 1):
        fresh, estimate = entry["final"], entry.get("estimate") or {}
        pooled = (
            f"{estimate['score']:.2f} ({estimate['ci'][0]:.2f} to {estimate['ci'][1]:.2f}); "
            f"best with probability {estimate['chance_best']:.0%}"
            if estimate
            else "&mdash;"
        )
        rows.append(
            f"<tr><td>{place}</td><td>{html.escape(entry['key'])}</td><td>{entry['stage']}</td>"
            f"<td>{fresh['score']:.2f}</td><td>{fresh['ci'][0]:.2f} to {fresh['ci'][1]:.2f}</td>"
            f"<td>{fresh['questions']:,}</td><td>{entry['dev_score']:.2f}</td><td>{pooled}</td></tr>"
        )
    return (
        "\n<h2>Final ranking</h2>\n<p>The finalists raced on questions none of them had "
        "answered when chosen; the last stage's best is returned.</p>\n"
        '<table id="final-ranking"><tr><th>#</th><th>key</th><th>stage</th><th>score</th>'
        "<th>95% CI</th><th>questions</th><th>dev score</th><th>pooled estimate</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _racing_html(report: dict[str, Any]) -> str:
    """Racing's spend apart from the evaluations' (`archon_async.search._race_share`),
    when a share bounds it."""
    racing = report.get("racing") or {}
    if "calls" not in racing:
        return ""
    share = racing["share"]
    said = "&mdash;" if share is None else f"{share:.2f}"
    # Not after a budget stop: the budget stopped racing too (stopped_by says so).
    limited = racing["limited"] and not report.get("stopped_by")
    cut = " The share stopped racing before its plan." if limited else ""
    return (
        f'\n<p id="racing-spend">Racing (leaders re-evaluated, the final ranking\'s race): '
        f"{racing['calls']:,} calls, {said} times the evaluations' {racing['evaluation_calls']:,} "
        f"(at most {racing['max_share']:g}: <code>racing.max_share</code>; counted as a fresh run "
        f"sends them).{cut}</p>"
    )


def _dollars_cell(evaluation: Evaluation) -> str:
    """Its $/query, or what that lacks: the calls to an unpriced model cost nothing in it,
    so it is at least the priced calls' dollars (a dash where none is priced), not "$0"."""
    dollars = evaluation.dollars_per_query
    if not evaluation.unpriced_models:
        return usd_text(dollars)
    return f"&ge; {usd_text(dollars)}" if dollars > 0 else "&mdash;"


def _leaderboard_rows(evaluations: list[Evaluation]) -> str:
    """The leaderboard's rows: the best 100 by objective (the earlier first on a tie)."""
    esc = html.escape
    ranked = sorted(evaluations, key=lambda e: (-e.objective, e.n))
    return "".join(
        f"<tr><td>{i}</td><td>{esc(e.key)}</td>"
        f"<td>{esc(Candidate.from_params(e.params).describe())}</td><td>{e.score:.2f}</td>"
        f"<td>{e.ci[0]:.2f} to {e.ci[1]:.2f}</td><td>{e.calls_per_query:g}</td>"
        f"<td>{e.tokens_per_query:,.0f}</td><td>{_dollars_cell(e)}</td>"
        f"<td>{e.cache_hit_share:.0%}</td><td>{'yes' if e.stopped_early else ''}</td></tr>"
        for i, e in enumerate(ranked[:100], 1)
    )


def _spend_rows(spent: dict[str, Any], unpriced: list[str]) -> str:
    """The spend table's rows: each model's calls, tokens and dollars (a dash for an
    ``unpriced`` model, never "$0"), then the total (at least that, where one is unpriced)."""
    rows = "".join(
        f"<tr><td>{html.escape(m)}</td><td>{int(u['calls']):,}</td><td>{int(u['tokens']):,}</td>"
        f"<td>{'&mdash;' if m in unpriced else usd_text(u['dollars'])}</td></tr>"
        for m, u in (spent.get("by_model") or {}).items()
    )
    if not rows:
        return '<tr><td colspan="4">no calls were made (oracle scores)</td></tr>'
    at_least = "&ge; " if unpriced else ""
    return rows + (
        f"<tr><th>total</th><th>{spent['calls']:,}</th><th>{spent['tokens']:,}</th>"
        f"<th>{at_least}{usd_text(spent['dollars'])}</th></tr>"
    )


def report_html(
    report: dict[str, Any], evaluations: list[Evaluation], front: list[Evaluation], cost: str
) -> str:
    """``report.html`` of ``report`` (``report.json``'s content), the evaluations and
    their Pareto ``front`` by ``cost``."""
    esc = html.escape
    rows = _leaderboard_rows(evaluations)
    spend_rows = _spend_rows(report.get("spend") or {}, report.get("unpriced_models") or [])
    facts = "".join(
        f"<tr><th>{esc(k)}</th><td>{_fact_html(v)}</td></tr>"
        for k, v in report.items()
        if k not in ("best", "final_ranking")  # each has its own section
    )
    best = report.get("best") or {}
    marker = "SIMULATED: " if report.get("simulated") else ""
    score = best.get("score")
    dev_score = "&mdash;" if score is None else f"{score:.2f}"  # as the leaderboard shows it
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{marker}ITAS search report: {esc(str(report.get("benchmark")))}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1000px}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}
</style></head><body>
<h1>{marker}Architecture search on {esc(str(report.get("benchmark")))}</h1>
<p>Best: <b id="best">{esc(str(best.get("key")))}</b>, dev score {dev_score} points
({esc(str(report.get("mode")))} evaluation, {report.get("evaluations")} architectures of
{report.get("space_size")}).</p>{_chosen_html(report)}{_unpriced_html(report)}
<h2>Search curve</h2>{_curve_svg(evaluations)}
<h2>Pareto front</h2>{pareto_svg(evaluations, front, cost)}
<h2>Leaderboard</h2>
<table id="leaderboard"><tr><th>#</th><th>key</th><th>architecture</th><th>score</th><th>95% CI</th>
<th>calls/query</th><th>tokens/query</th><th>$/query</th><th>cache hits</th>
<th>stopped early</th></tr>{rows}</table>{_final_html(report)}
<h2>Spend by model</h2>
<p>Calls sent by every run of the search (cache hits cost nothing): the architectures,
their judging, the model ranking, the baseline's answers, racing and the held-out
scoring.</p>
<table id="spend"><tr><th>model</th><th>calls</th><th>tokens</th><th>$ (list price)</th></tr>
{spend_rows}</table>{_racing_html(report)}
<h2>Run</h2><table>{facts}</table>
</body></html>
"""
