"""A search's event loop: the model ranking, then the algorithm's proposals in batches
evaluated concurrently and recorded line by line, the leaders raced on more questions,
the final stages and the held-out score, and the outputs; each step told as a
`SearchEvent`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from .._exceptions import BudgetExceededError, ConfigError
from .._pricing import usd
from ._algorithms import make_algorithm
from ._evaluate import EngineEvaluator, Evaluator
from ._evaluators import evaluators
from ._failures import ProviderOutageError
from ._final import CHOSEN_BY, choose
from ._outlook import Outlook
from ._outputs import write_outputs
from ._race_share import RaceShare
from ._racing import Race
from ._record import Evaluation, RunRecord
from ._sampled import SampledEvaluator
from ._space import Candidate, Space
from ._spending import WallTimeUp, spent_before

if TYPE_CHECKING:
    from ._run import Search

__all__ = ["SearchEvent", "search_events"]


@dataclass(frozen=True)
class SearchEvent:
    """Something the search did: ``ranking`` (the model ranking started, or one more model
    ranked: its ``name`` as the search file names it, ``model`` the provider's id),
    ``ranked`` (``names`` and ``order``, the same two ways), ``evaluated`` (its ``mode``
    says how it was scored: ``oracle`` and ``sampled`` ones make no call), ``raced``
    (leaders re-evaluated on more questions after a batch), ``final_scored`` (one of the
    final ranking re-scored), ``stopped`` or ``finished``."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


async def search_events(search: Search) -> AsyncGenerator[SearchEvent, None]:
    """Run ``search`` (see `Search.events`), yielding what happens as it happens; its
    report ends in ``search.result``."""
    spending = search._spending
    spending.start()
    record = RunRecord(search.run_dir, search.identity())
    before = record.load_json("outside_spend.json") or {}
    spending.before = spent_before(record)
    async with AsyncExitStack() as stack:
        evaluator_for = await evaluators(search, stack)
        ranking = record.load_json("ranking.json")
        if ranking is None:
            ranking = {}
            try:
                async for ranked_one in _rank(search, evaluator_for, record, before, ranking):
                    yield ranked_one
            except BudgetExceededError:
                ranking = None
        if ranking is None:
            reason = spending.cap_reason()
            yield SearchEvent("stopped", {"reason": reason})
            search.result = _stopped_in_ranking(search, record, before, reason)
            yield SearchEvent("finished", search.result)
            return
        ranked = sorted(search.models, key=lambda m: -float(ranking[m.model]))
        # order: the provider ids (ranking.json's keys); names: as the search file names them.
        order, names = [m.model for m in ranked], [m.name for m in ranked]
        yield SearchEvent("ranked", {"ranking": ranking, "order": order, "names": names})
        space = Space(search.settings, ranked)
        if not len(space):  # dollars depend on which model ranks first (it fuses last)
            raise ConfigError(space.why_empty(), source=str(search.path))
        run = _Run(search, space, evaluator_for(space), record)
        async for event in _proposals(run):
            yield event
        record.rewrite()  # in proposal order, whatever order they finished in
        if run.stop:
            yield SearchEvent("stopped", {"reason": run.stop})
        head = _report_head(search, space, run.stop)
        async for event in _final_stages(run, head):
            yield event
        search.result = _write(run, head, before)
    yield SearchEvent("finished", search.result)


@dataclass
class _Run:
    """What the steps of a search after the model ranking share: the space, its
    evaluator, the record, the race (None for exact scores), the scores told to the
    algorithm, why it stopped ("" while it runs) and the chosen finalist's key."""

    search: Search
    space: Space
    evaluator: Any
    record: RunRecord
    race: Race | None = None
    scores: dict[Candidate, float] = field(default_factory=dict)
    stop: str = ""
    chosen: str | None = None

    def __post_init__(self) -> None:
        self.race = _race(self.search, self.evaluator, self.record)


async def _proposals(run: _Run) -> AsyncIterator[SearchEvent]:
    """The algorithm's proposals in batches, each evaluated concurrently and recorded,
    the leaders raced after each batch; ends at the planned evaluations or a stop
    (``run.stop``)."""
    search, record, race = run.search, run.record, run.race
    spending = search._spending
    proposals = make_algorithm(
        search.algorithm, run.space, run.scores, seed=search.seed, batch=search.parallel
    )
    count = 0
    # The architectures budget caps the planned evaluations; reaching it is a stop.
    limit = search.planned_architectures()
    for batch in proposals:
        run.stop = spending.over_budget(record)
        if run.stop:
            break
        batch = batch[: limit - count]
        done = await _evaluate_batch(search, run.evaluator, record, batch, count, run.scores)
        count += len(batch)
        for evaluation in done:
            sent = spending.spent_so_far() if search.callpath is not None else None
            event = _event(evaluation, record, min(limit, len(run.space)), sent)
            event["mode"] = search.mode  # an oracle's or sampled search's spend: no calls
            yield SearchEvent("evaluated", event)
        spending.save_spent(record)
        run.stop = spending.cap_reached()
        if run.stop:
            break  # the batch's cut evaluations are not told: a resume redoes them
        if race is not None:
            answered = race.answered
            try:  # the leaders rest on more questions before the next proposals
                made = await race.follow_leaders(run.scores, upto=count)
            except BudgetExceededError:
                run.stop = spending.cap_reason()
                break
            if made:
                yield _raced(search, made, race.answered - answered)
        if count >= limit:
            if limit < min(search.evaluations, len(run.space)):
                run.stop = "budget: architectures"
            break  # never resume the algorithm past its last scored proposal


async def _final_stages(run: _Run, head: dict[str, Any]) -> AsyncIterator[SearchEvent]:
    """The final stages among the leaders (the final ranking, into ``head`` and
    ``final_ranking.json``) and the chosen one's held-out score, unless the search
    stopped; a cap reached here stops them (``run.stop``), the results so far stand."""
    search, record, race = run.search, run.record, run.race
    count = search.settings.number_of_archon_configs_for_final_ranking
    try:
        if race is not None and race.size > race.dev and count and not run.stop:
            async for progress in race.final_stages(count):
                yield SearchEvent("final_scored", progress)
            final = race.final_ranking
            # Each with its pooled estimate; listed by what chose, best first.
            points = [race.final_points(entry["key"]) for entry in final]
            final = choose(run.space, list(record.evaluations.values()), final, points)
            record.save_json("final_ranking.json", final)
            head["final_ranking"] = final
            if final:
                head["chosen_by"] = CHOSEN_BY
                run.chosen = final[0]["key"]
        if run.chosen is not None:
            head["held_out"] = await _held_out(search, run.evaluator, record, run.chosen)
    except (BudgetExceededError, WallTimeUp) as exc:
        # The cap ran out in the final stages: the search's results stand, written
        # below; a rerun with a larger budget finishes them from the record.
        spending = search._spending
        run.stop = "budget: wall_time_s" if isinstance(exc, WallTimeUp) else spending.cap_reason()
        head["stopped_by"] = run.stop
        yield SearchEvent("stopped", {"reason": run.stop})


def _write(run: _Run, head: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """The spend kept for a resume and the outputs; returns the report."""
    spending = run.search._spending
    if run.race is not None:
        head["racing"] = run.race.spend()
        if head.get("stopped_by") and "limited" in head["racing"]:
            # A budget stopped the search, and racing with it: say so, not that the share
            # did (raising racing.max_share would not race further).
            head["racing"] |= {"limited": False, "stopped_by": head["stopped_by"]}
    head["wall_time_s"] = spending.elapsed()  # final stages too
    head["sent"] = spending.sent()
    spending.save_outside(run.record, before, run.search.outside)
    spending.save_spent(run.record)
    truth = getattr(run.evaluator, "truth", None)
    return write_outputs(run.record, run.space, head, truth, chosen=run.chosen)


async def _rank(
    search: Search,
    evaluator_for: Any,
    record: RunRecord,
    before: dict[str, Any],
    ranking: dict[str, float],
) -> AsyncIterator[SearchEvent]:
    """Each model alone on the ranking questions, into ``ranking`` and then
    ``ranking.json`` (a resumed search does not rank again), with a ``ranking`` event as
    it starts and as each model is done (a live display shows the ranking's progress).

    Raises:
        BudgetExceededError: the budget ran out first (nothing is kept).
    """
    spending = search._spending
    evaluator = evaluator_for(Space(search.settings, search.models))
    if not isinstance(evaluator, EngineEvaluator):  # scores known at once: no calls
        ranking.update(await evaluator.rank_models())
    else:
        of, questions = len(search.models), len(evaluator.ranking)
        yield SearchEvent("ranking", {"done": 0, "of": of, "questions": questions})
        names = {m.model: m.name for m in search.models}
        async for model, score in evaluator.rank_each():
            ranking[model] = score
            yield SearchEvent(
                "ranking",
                {
                    "model": model,
                    "name": names.get(model, model),
                    "score": score,
                    "done": len(ranking),
                    "of": of,
                    "questions": questions,
                    "spent": spending.spent_so_far(),
                },
            )
    record.save_json("ranking.json", ranking)
    spending.save_outside(record, before, search.outside)
    spending.save_spent(record)


def _raced(search: Search, made: int, questions: int) -> SearchEvent:
    """A ``raced`` event: ``made`` re-evaluations of leaders answered ``questions``
    more questions (0 when a resumed search read them back), and the spend so far."""
    spent = search._spending.spent_so_far() if search.callpath is not None else None
    return SearchEvent("raced", {"leaders": made, "questions": questions, "spent": spent})


def _stopped_in_ranking(
    search: Search, record: RunRecord, before: dict[str, Any], reason: str
) -> dict[str, Any]:
    """The outputs of a search whose budget ran out while it ranked the models."""
    space = Space(search.settings, search.models)
    head = _report_head(search, space, reason)
    head["sent"] = search._spending.sent()
    # What the ranking sent counts on a resume (the cap spans every run).
    search._spending.save_outside(record, before, search.outside)
    search._spending.save_spent(record)
    return write_outputs(record, space, head, None)


async def _held_out(search: Search, evaluator: Any, record: RunRecord, chosen: str) -> Any:
    """The chosen architecture's score on the held-out questions (kept in
    ``held_out.json`` for a resume), or None when there are none."""
    if not getattr(evaluator, "report", None):
        return None
    done = record.load_json("held_out.json")
    if done is not None and done.get("key") == chosen:
        return done
    params = record.evaluations[chosen].params
    search._spending.check_wall_time()
    entry = {"key": chosen, **await evaluator.score_report(Candidate.from_params(params))}
    record.save_json("held_out.json", entry)
    return entry


def _race(search: Search, evaluator: Any, record: RunRecord) -> Race | None:
    """The racing state (`archon_async.search._racing`) of an evaluator on questions
    (engine or sampled; the oracle's exact scores need none)."""
    if not isinstance(evaluator, EngineEvaluator | SampledEvaluator):
        return None
    racing = search.settings.archon_async.racing
    return Race(
        evaluator,
        record,
        leaders=racing.leaders if racing.enabled else 0,
        leader_questions=racing.leader_questions,
        draws=racing.draws if racing.enabled else 1,
        check=search._spending.check_wall_time,
        outlook=Outlook(evaluator.space),
        second_looks=racing.second_looks if racing.enabled else 0,
        predicted_finalists=racing.predicted_finalists if racing.enabled else 0,
        first_passes=racing.first_passes,
        share=_share(evaluator, racing.max_share if racing.enabled else None),
        # The first stage's reserve: the predicted finalists race too.
        finalists=search.settings.number_of_archon_configs_for_final_ranking
        + (racing.predicted_finalists if racing.enabled else 0),
    )


def _share(evaluator: Any, max_share: float | None) -> RaceShare | None:
    """What bounds racing's calls (`archon_async.search._race_share`): only where the
    evaluations send calls (an engine's), when ``max_share`` is set."""
    if max_share is None or not isinstance(evaluator, EngineEvaluator):
        return None
    from ..benchmarks import judge_kind

    judge_calls = 0
    if evaluator.benchmark.scoring == "judge":
        kind = judge_kind(evaluator.benchmark) if evaluator.pairwise else "rating"
        judge_calls = 2 if kind == "pairwise" else 1
    turns = [len(getattr(item, "turns", None) or ()) or 1 for item in evaluator.dev]
    later = max(0, round(sum(turns) / max(1, len(turns))) - 1)
    return RaceShare(evaluator.space, max_share, judge_calls=judge_calls, later_turns=later)


async def _evaluate_batch(
    search: Search,
    evaluator: Evaluator,
    record: RunRecord,
    batch: list[Candidate],
    count: int,
    scores: dict[Candidate, float],
) -> list[Evaluation]:
    results: dict[Candidate, Evaluation] = {}
    # "Clearly weaker" than the best so far: below the lower end of its interval, as
    # the best of many noisy scores is a lucky one (its own mean would stop too many).
    # Only earlier batches count: a resumed search's record may already hold some of
    # this batch (done before the kill), which an uninterrupted run did not know yet.
    full = [e.ci[0] for e in record.evaluations.values() if not e.stopped_early and e.n <= count]
    best = max(full) if full else None
    outages: list[ProviderOutageError] = []

    async def one(candidate: Candidate, n: int) -> None:
        held = record.evaluations.get(candidate.key())
        if held is None:
            try:
                held = await evaluator.evaluate(candidate, n, stop_below=best)
            except BudgetExceededError:
                return
            except ProviderOutageError as exc:  # the others finish and are recorded
                outages.append(exc)
                return
            if search._spending.cap_reached():
                return  # it may have lost calls to the hard cap: a resume redoes it
            record.add(held)
        results[candidate] = held

    async with anyio.create_task_group() as group:
        for offset, candidate in enumerate(batch):
            group.start_soon(one, candidate, count + offset + 1)
    if outages:
        raise outages[0]
    if len(results) < len(batch):
        return [results[c] for c in batch if c in results]
    # Told in proposal order, whatever order they finished in: the same history.
    for candidate in batch:
        scores[candidate] = results[candidate].objective
    return [results[c] for c in batch]


def _report_head(search: Search, space: Space, stop: str) -> dict[str, Any]:
    return {
        "search_file": str(search.path),
        "benchmark": search.benchmark,
        "mode": search.mode,
        "simulated": search.mode != "real",
        "algorithm": search.algorithm,
        "seed": search.seed,
        "parallel": search.parallel,
        "space_size": len(space),
        "infeasible_removed": space.infeasible,
        "stopped_by": stop or None,
        "wall_time_s": search._spending.elapsed(),
    }


def _event(
    evaluation: Evaluation, record: RunRecord, total: int, sent: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An ``evaluated`` event: this evaluation, the best up to it in proposal order, and
    what the search has spent so far (calls sent, tokens, dollars: ``sent``, what every
    run of it sent up to now, when it has a call path; else the evaluations' own spend)."""
    so_far = [e for e in record.evaluations.values() if e.n <= evaluation.n]
    best = max(so_far, key=lambda e: (e.objective, -e.n))
    return {
        "n": evaluation.n,
        "key": evaluation.key,
        "score": evaluation.score,
        "objective": evaluation.objective,
        "best_key": best.key,
        "best_objective": best.objective,
        "evaluated": evaluation.n,
        "planned": total,
        "spent": {k: sent[k] for k in ("calls", "tokens", "dollars")}
        if sent is not None
        else {
            "calls": sum(e.calls for e in record.evaluations.values()),
            "tokens": sum(e.tokens for e in record.evaluations.values()),
            "dollars": usd(sum(e.dollars for e in record.evaluations.values())),
        },
    }
