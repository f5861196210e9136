"""``--estimate`` after the search proper: the final ranking and the held-out report run.

What a search sends once its evaluations are done (see `archon_async.search._racing`):

* **Leaders and finalists on the final-ranking questions** (the first pass of the
  selection questions beyond the dev ones): the finalists, and racing's leaders
  re-evaluated during the search beyond them (`LEADER_TOP_UPS`), each distinct request
  once a question.
* **The race's further passes.** Successive halving (`stage_plan`, the search's own plan)
  takes the finalists to ``draws`` passes over every selection question; pass ``p`` runs
  as `Engine.generate`'s draw ``p``, samples of its own, so each pass sends its survivors'
  distinct requests anew on every selection question. The survivors of each stage are
  taken as the best finalists by the walk's scores (``high``: the most costly of them,
  none shared; ``low``: one finalist's requests, the cheapest, a pass).
* **The held-out report questions**: the chosen architecture (the walk's best) once on
  each, with the judge and the baseline's answers there on a pairwise-judged benchmark.

Each part adds to ``expected``, ``low`` and ``high`` as `estimate` sums them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ._outlook import FIT_MIN
from ._racing import stage_plan
from ._sharing import Call, generator_call
from ._space import Candidate
from ._walk import SCORE_FREE

if TYPE_CHECKING:
    from ._estimate import _Plan
    from ._settings import Racing

__all__ = ["LEADER_TOP_UPS", "LEADER_TOP_UPS_HIGH", "after_search"]

#: Leaders re-evaluated during a search (racing) beyond the first ``leaders``, per
#: evaluation: 38 to 74 in 200 with six leaders (bench/search_sampled.py), 16 in 30
#: (random search, the lead's check; bench/RESULTS.md 2026-11-30); the expected count.
LEADER_TOP_UPS = 0.25
#: The most of them measured (74 in 200), rounded up: the high end's.
LEADER_TOP_UPS_HIGH = 0.4

#: Finalist picks averaged for random and grid search (`_orders`).
PICKS = 32

_Totals = dict[str, list[float]]


def after_search(
    plan: _Plan, totals: _Totals, held: int, report: int, part: tuple[int, int] = (0, 1)
) -> _Totals:
    """``totals`` (the dev questions' spend) with what follows the evaluations added: the
    final-ranking questions' first pass, the race's further passes, the report run
    (``held``: final-ranking questions; ``report``: held-out report questions), over the
    finalists the run could pick (`_orders`; ``part`` ``(i, n)``: every n-th from the
    i-th, when n plans share them): their mean for ``expected``, the least and the most
    costly pick for ``low`` and ``high``; and ``racing``: the race's part of ``expected``
    (leaders, finalists and passes)."""
    search = plan.search
    count = search.settings.number_of_archon_configs_for_final_ranking
    racing = search.settings.archon_async.racing
    single = plan.dev + held
    size = single * (racing.draws if racing.enabled else 1)
    if not count or size <= plan.dev or not plan.full:
        return totals  # no final ranking: nothing is chosen, nothing reported
    leaders = racing.leaders if racing.enabled else 0
    topped = min(racing.leader_questions or single, single)
    # The leaders rank on ``topped`` positions when racing tops them up, else the dev ones.
    ranked_on = topped if leaders and topped > plan.dev else plan.dev
    orders = _orders(plan, ranked_on)
    orders = orders[part[0] :: part[1]] or orders
    picks = [_after_pick(plan, totals, ranked, held, report) for ranked in orders]
    after = _over_picks(picks)
    return _sum([totals, after]) | {"racing": after["racing"]}


def _after_pick(
    plan: _Plan, totals: _Totals, ranked: Sequence[Candidate], held: int, report: int
) -> _Totals:
    """What follows the evaluations when the run ranks them ``ranked`` (best first)."""
    count = _finalists(plan)
    racing = plan.search.settings.archon_async.racing
    single = plan.dev + held
    size = single * (racing.draws if racing.enabled else 1)
    race = _sum([_first_pass(plan, ranked, held), _passes(plan, ranked[:count], single, size)])
    if racing.enabled and racing.max_share is not None:
        # The share is counted in requests as named, selections always changing their
        # input (`_race_share`); what racing sends is fewer when they hand it on.
        named = plan.named()
        finalists = ranked[:count]
        asked = _sum([_first_pass(named, ranked, held), _passes(named, finalists, single, size)])
        evaluated = plan.evaluation_calls() | {"high": totals["high"][0]}
        first = _archon_final(named, ranked[:count], held)
        # The baseline's answers are no architecture's: outside the share, never cut.
        baseline = _baseline_answers(plan, held)
        race = _within_share(
            _less(race, baseline), _less(asked, baseline), evaluated, first, racing
        )
        race = _sum([race, baseline])
    # The first stage always runs, and does not send again what the model ranking
    # answered on its questions (the share counts them, as a fresh run's, `_race_share`).
    first_calls = [call for c in ranked[:count] for call in _calls(plan, c)]
    first_calls += [call for call in [_baseline(plan)] if call is not None]
    already = _ranked_already(plan.on("final"), first_calls, "final")
    for end in ("expected", "low"):
        _add(race[end], already, -1)
    parts = [race]
    if report:
        parts.append(_report(plan, ranked[:count], report))
    after = _sum(parts)
    # The low end's pick is the cheapest in calls, whose calls may cost more tokens or
    # dollars each than the expected pick's (a race bounded in calls then spends more
    # dollars at its low end than expected): each figure's low is at most its expected.
    after["low"] = [
        min(low, mean) for low, mean in zip(after["low"], after["expected"], strict=True)
    ]
    # Racing's own expected calls, tokens and dollars, told apart by the estimate.
    return after | {"racing": race["expected"]}


def _finalists(plan: _Plan) -> int:
    """How many race in the final ranking: the configured number, and racing's
    ``predicted_finalists`` once a model can be fitted (taken as the next best by the
    walk's scores: the model's picks are near the top, some among the configured ones)."""
    count = plan.search.settings.number_of_archon_configs_for_final_ranking
    racing = plan.search.settings.archon_async.racing
    if racing.enabled and len(plan.full) >= FIT_MIN:
        count += racing.predicted_finalists
    return count


def _orders(plan: _Plan, questions: int) -> list[list[Candidate]]:
    """The evaluated architectures best first, as the run could rank them. A walked path's
    scores are drawn as a run's are: that order. Random and grid search are walked on
    expected scores, but a run ranks them by scores measured on ``questions`` (the
    leaders'), whose noise can make cheaper architectures the finalists, and the race's
    passes are most of what a small search sends (the expected scores' top alone put the
    estimate 23% over a run's calls, bench/RESULTS.md): `PICKS` orders by scores drawn
    binomially on ``questions`` around the expected ones (seeded by the search)."""
    scores = np.array([score for score, _ in plan.full], dtype=float)
    candidates = [c for _, c in plan.full]
    if plan.search.algorithm not in SCORE_FREE:
        return [[candidates[i] for i in np.argsort(-scores, kind="stable")]]
    rng = np.random.default_rng([plan.search.seed, len(candidates)])
    chance = np.clip(scores / 100.0, 0.0, 1.0)
    orders = []
    for _ in range(PICKS):
        drawn = rng.binomial(questions, chance)
        orders.append([candidates[i] for i in np.argsort(-drawn, kind="stable")])
    return orders


def _over_picks(picks: Sequence[_Totals]) -> _Totals:
    """``expected`` and ``racing``: the picks' mean; ``low``: the least of them; ``high``:
    the most."""
    return {
        "expected": [sum(p["expected"][i] for p in picks) / len(picks) for i in range(3)],
        "low": [min(p["low"][i] for p in picks) for i in range(3)],
        "high": [max(p["high"][i] for p in picks) for i in range(3)],
        "racing": [sum(p["racing"][i] for p in picks) / len(picks) for i in range(3)],
    }


def _baseline_answers(plan: _Plan, held: int) -> _Totals:
    """The baseline's answers on the final-ranking questions (none without a pairwise
    judge), as `_first_pass` counts them."""
    baseline = _baseline(plan)
    final = plan.on("final")
    shared = _priced(final, [baseline] if baseline is not None else [], held)
    high = [0.0, 0.0, 0.0]
    if baseline is not None:
        _add(high, final._price(baseline, upper=True), held)
    return {"expected": shared, "low": list(shared), "high": high}


def _less(totals: _Totals, part: _Totals) -> _Totals:
    """``totals`` without ``part``."""
    return {end: [a - b for a, b in zip(totals[end], part[end], strict=True)] for end in totals}


def _sum(parts: Sequence[_Totals]) -> _Totals:
    return {end: [sum(part[end][i] for part in parts) for i in range(3)] for end in parts[0]}


def _within_share(
    race: _Totals, asked: _Totals, evaluated: dict[str, float], first: _Totals, racing: Racing
) -> _Totals:
    """Racing's spend (``race``) as `racing.max_share` bounds it
    (`archon_async.search._race_share`): what it asks (``asked``, counted as the share
    counts it) at most that share of the evaluations' calls (``evaluated``, by end; high:
    the naive sum), but never less than the final ranking's first stage (``first``), which
    always runs; its calls, tokens and dollars cut in proportion."""
    assert racing.max_share is not None
    bounded: _Totals = {}
    for end, values in race.items():
        allowed = max(first[end][0], racing.max_share * evaluated[end])
        scale = min(1.0, allowed / asked[end][0]) if asked[end][0] else 1.0
        bounded[end] = [value * scale for value in values]
    return bounded


def _archon_final(plan: _Plan, finalists: Sequence[Candidate], held: int) -> _Totals:
    """The finalists on the final-ranking questions once (Archon's final ranking: the
    least the first stage of the race sends)."""
    plan = plan.on("final")
    names = {call.name: call for c in finalists for call in _calls(plan, c)}
    shared = _priced(plan, names.values(), held)
    naive = [0.0, 0.0, 0.0]
    for c in finalists:
        _add(naive, _naive(plan, c), held)
    return {"expected": shared, "low": list(shared), "high": naive}


def _first_pass(plan: _Plan, ranked: Sequence[Candidate], held: int) -> _Totals:
    """The finalists, and racing's leaders re-evaluated during the search beyond them
    (`LEADER_TOP_UPS`), on the final-ranking questions."""
    plan = plan.on("final")
    count = _finalists(plan)
    racing = plan.search.settings.archon_async.racing
    top, most = ranked[:count], ranked[:count]
    if racing.enabled and racing.leaders:
        ups = racing.leaders + round(LEADER_TOP_UPS * len(plan.full))
        top = ranked[: max(count, ups)]
        most = ranked[: max(count, racing.leaders + round(LEADER_TOP_UPS_HIGH * len(plan.full)))]
    names: dict[int, Call] = {}
    naive = [0.0, 0.0, 0.0]
    for rank, candidate in enumerate(most):
        for call in _calls(plan, candidate):
            if rank < len(top):
                names[call.name] = call
            _add(naive, plan._price(call, upper=True), held)
    baseline = _baseline(plan)
    if baseline is not None:
        names[baseline.name] = baseline
        _add(naive, plan._price(baseline, upper=True), held)
    shared = _priced(plan, names.values(), held)
    return {"expected": shared, "low": list(shared), "high": naive}


def _passes(plan: _Plan, finalists: Sequence[Candidate], single: int, size: int) -> _Totals:
    """The race's passes after the first: pass ``p`` by the survivors of the first stage
    that reaches past it, every selection question anew."""
    plan = plan.on("selection")
    racing = plan.search.settings.archon_async.racing
    leaders = racing.leaders if racing.enabled else 0
    topped = min(racing.leader_questions or single, single)
    # The finalists' start, as `Race.final_stages` finds it: the leaders among them rest on
    # ``topped`` positions when leaders are topped up at all.
    base = topped if leaders and topped > plan.dev else plan.dev
    if base >= size:
        base = plan.dev
    stages = stage_plan(len(finalists), base, single, size, first_passes=racing.first_passes)
    result: _Totals = {end: [0.0, 0.0, 0.0] for end in ("expected", "low", "high")}
    naive = sorted((_naive(plan, c) for c in finalists), key=lambda v: -v[0])
    cheapest = min((_priced(plan, _calls(plan, c), single) for c in finalists), key=lambda v: v[0])
    for draw in range(1, size // single):
        survivors = next(n for n, level in stages if level >= (draw + 1) * single)
        names = {call.name: call for c in finalists[:survivors] for call in _calls(plan, c)}
        _add(result["expected"], _priced(plan, names.values(), single), 1)
        _add(result["low"], cheapest, 1)
        for values in naive[:survivors]:
            _add(result["high"], values, single)
    return result


def _report(plan: _Plan, finalists: Sequence[Candidate], report: int) -> _Totals:
    """The chosen architecture (the walk's best; ``low``: the cheapest finalist) once on
    each report question, with the baseline's answers there when the judge compares."""
    plan = plan.on("report")
    baseline = _baseline(plan)
    extra = [baseline] if baseline is not None else []

    def sent(candidate: Candidate) -> list[float]:
        calls = [*_calls(plan, candidate), *extra]
        total = _priced(plan, calls, report)
        _add(total, _ranked_already(plan, calls, "report"), -1)
        return total

    chosen = sent(finalists[0])
    cheapest = min((sent(c) for c in finalists), key=lambda v: v[0])
    high = [0.0, 0.0, 0.0]
    for call in [*_calls(plan, finalists[0]), *extra]:
        _add(high, plan._price(call, upper=True), report)
    return {"expected": chosen, "low": cheapest, "high": high}


def _ranked_already(plan: _Plan, calls: Iterable[Call], questions: str) -> list[float]:
    """What ``calls`` would send on the model ranking's questions among the
    ``questions`` (``final``, ``report``): the ranking answered those there already."""
    if plan.sets is None:
        return [0.0, 0.0, 0.0]
    ranked = [call for call in calls if call.name in plan.ranking]
    return _priced(plan, ranked, plan.sets.ranking_in[questions])


def _calls(plan: _Plan, candidate: Candidate) -> list[Call]:
    """One question's calls of ``candidate`` (every turn of it), its judge's included."""
    return plan.calls_of(candidate)


def _baseline(plan: _Plan) -> Call | None:
    """The baseline's answer call (a pairwise judge compares against it), if any."""
    from ._estimate import _model_of

    baseline = _model_of(plan.search, plan.search.settings.baseline_model)
    if plan.judge_calls == 2 and baseline:
        return generator_call(plan.names, baseline, 0)
    return None


def _naive(plan: _Plan, candidate: Candidate) -> list[float]:
    """One question of ``candidate`` with no cache and the longest replies measured."""
    total = [0.0, 0.0, 0.0]
    for call in _calls(plan, candidate):
        _add(total, plan._price(call, upper=True), 1)
    return total


def _priced(plan: _Plan, calls: Iterable[Call], questions: int) -> list[float]:
    """Calls, tokens and dollars of ``calls`` (each distinct once) on ``questions``."""
    total = [0.0, 0.0, 0.0]
    for call in {call.name: call for call in calls}.values():
        _add(total, plan._price(call), questions)
    return total


def _add(total: list[float], values: Sequence[float], times: float) -> None:
    for i in range(3):
        total[i] += values[i] * times
