"""`Search`: one architecture search, from the search file to the run directory's outputs.

    search = Search("space.json", simulate=True, oracle=True, seed=1)
    async for event in search.events():      # live progress
        print(event.kind, event.data)
    # or: result = await search.run()

The model ranking comes first (each model alone), then the algorithm proposes candidates
in batches of ``parallel``; each batch is evaluated concurrently and recorded line by line.
Run again with the same arguments, a killed search replays its record (no evaluation runs
twice) and continues to the same result.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from pydantic import ValidationError

from .._exceptions import BudgetExceededError, ConfigError
from .._output_lock import output_lock, output_lock_path
from .._pricing import usd, usd_text
from .._progress import BatchStats
from ._algorithms import check_algorithm, make_algorithm
from ._effects import Effects
from ._evaluate import EngineEvaluator, Evaluator, OracleEvaluator
from ._final import CHOSEN_BY, choose
from ._load import load_search_file, validation_error
from ._models import ModelRef
from ._outputs import write_outputs
from ._questions import QuestionSets
from ._racing import Race
from ._record import Evaluation, RunRecord
from ._sampled import SampledEvaluator
from ._settings import Budget, SearchFile
from ._space import Candidate, Space
from ._spend import SPEND_JOURNAL, add_by_model, by_model, unpriced
from ._truth import Truth

__all__ = ["Search", "SearchEvent", "benchmark_name"]

#: Archon's benchmark names that differ from ours.
_ARCHON_BENCHMARKS = {"arena_hard_auto": "arena_hard"}


def benchmark_name(name: str) -> str:
    """Our name of a benchmark Archon's search files name."""
    key = name.strip().lower().replace("-", "_")
    return _ARCHON_BENCHMARKS.get(key, key)


@dataclass(frozen=True)
class SearchEvent:
    """Something the search did: ``ranking`` (the model ranking started, or one more model
    ranked), ``ranked``, ``evaluated``, ``raced`` (leaders re-evaluated on more questions
    after a batch), ``final_scored`` (one of the final ranking re-scored), ``stopped`` or
    ``finished``."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


class Search:
    """An architecture search (ITAS) over the space of a search file.

    Args:
        space_file: an Archon search configuration (with our optional section).
        benchmark: overrides the file's benchmark.
        data: the benchmark's data (a path) where it is not shipped, or to replace it.
        algorithm: overrides the file's algorithm.
        run_dir: where the record and outputs go (default: our section's ``run_dir``, else
            ``<base_output_directory>/<file stem>``, else ``<file stem>.search``).
        seed: seeds the algorithm, the question subsets and the simulation.
        simulate: use the simulated provider and ground truth (nothing is paid).
        oracle: with ``simulate``, score by the exact expected score (no calls at all).
        sampled: with ``oracle``, draw each dev question's outcome from the ground truth
            instead (`SampledEvaluator`): the noise of a run on the simulated provider,
            still no calls.
        budget: overrides our section's budget: a `Budget` (calls, tokens, dollars,
            architectures, wall time), an engine `archon_async.Budget` (its caps read as
            calls, tokens and dollars) or a dict of `Budget`'s fields.
        parallel: architectures evaluated at once.
        evaluations: architectures to evaluate at most.
        keys: API keys for real runs (as `Engine` takes them).
        simulator: with ``simulate``, more settings of the simulated provider
            (`archon_async.simulate.SimulationSettings` fields: latency, rate limits...).

    Raises:
        ConfigError: a bad search file, ``oracle`` without ``simulate``, or a run directory
            that holds another search.
    """

    def __init__(
        self,
        space_file: str | Path,
        *,
        benchmark: str | None = None,
        data: str | Path | None = None,
        algorithm: str | None = None,
        run_dir: str | Path | None = None,
        seed: int = 0,
        simulate: bool = False,
        oracle: bool = False,
        sampled: bool = False,
        budget: Budget | Any = None,
        parallel: int | None = None,
        evaluations: int | None = None,
        keys: Any = None,
        simulator: dict[str, Any] | None = None,
    ) -> None:
        if oracle and not simulate:
            raise ConfigError("--oracle scores by the simulated ground truth: add --simulate")
        self.path = Path(space_file)
        self.settings, self.models = load_search_file(self.path)
        ext = self.settings.archon_async
        benchmark = benchmark or self.settings.benchmark
        if not benchmark:  # Archon's files always name one; guessing would search the wrong task
            raise ConfigError(
                'no benchmark: set "benchmark" in the file (e.g. "gsm8k", Archon\'s '
                '"arena_hard_auto") or give --benchmark NAME',
                source=str(space_file),
            )
        self.benchmark = benchmark_name(benchmark)
        self.algorithm = algorithm or self.settings.algorithm()
        check_algorithm(self.algorithm)  # now: the model ranking's calls come before it runs
        self.seed = seed
        self.simulate = simulate
        self.oracle = oracle
        if sampled and not oracle:
            raise ConfigError("sampled draws outcomes from the ground truth: add oracle")
        self.sampled = sampled
        self.mode = (
            ("sampled" if sampled else "oracle") if oracle else "simulated" if simulate else "real"
        )
        self.budget = _search_budget(budget, str(self.path)) or ext.budget
        self.parallel = parallel or ext.parallel
        self.evaluations = evaluations or self.settings.planned_evaluations(self.algorithm)
        self.keys = keys
        try:
            self.effects = Effects.model_validate({"seed": seed, **ext.simulation})
        except ValidationError as exc:
            raise validation_error(
                exc, str(self.path), Effects, ("archon_async", "simulation")
            ) from None
        if ext.providers:
            from ..callpath._settings import validated_settings

            try:
                validated_settings(ext.providers)
            except ConfigError as exc:  # named in the search file, before anything runs
                raise ConfigError(
                    f"{exc} (archon_async.providers)", source=str(self.path)
                ) from None
        self.run_dir = Path(run_dir) if run_dir else self._default_run_dir()
        from ..benchmarks import get_benchmark

        self._benchmark = get_benchmark(self.benchmark, path=data)
        self._questions = QuestionSets(
            self.settings, self._benchmark, name=self.benchmark, seed=seed, source=str(self.path)
        )
        if self.mode != "oracle":  # question sets that do not fit: said now, not mid-run
            self._questions.counts(len(self._benchmark.items()))
        self._check_judging()
        self.result: dict[str, Any] | None = None
        self._check_prices()
        space = Space(self.settings, self.models)
        if not len(space):
            raise ConfigError(space.why_empty(), source=str(self.path))
        #: The call path of a run on a provider (None in oracle mode, or before `run`).
        self.callpath: Any = None
        #: The calls of no evaluation in this run (model ranking, baseline, final ranking).
        self.outside = BatchStats(total=0)
        self.simulator_options = dict(simulator or {})
        #: The simulated provider of a simulated run (None otherwise, or before `run`).
        self.simulator: Any = None
        # The hard cap on calls, tokens and dollars the call path enforces (see `_hard_cap`).
        self._cap: Any = None
        self._spent_before = (0, 0, 0.0)
        # When the wall-time budget ends (monotonic seconds; None: no such budget).
        self._deadline: float | None = None

    def _default_run_dir(self) -> Path:
        ext = self.settings.archon_async
        if ext.run_dir:
            return Path(ext.run_dir)
        if self.settings.base_output_directory:
            return Path(self.settings.base_output_directory) / self.path.stem
        return Path(f"{self.path.stem}.search")

    def identity(self) -> dict[str, Any]:
        """What a resumed search must share with the record it continues: every setting
        of the space and of how an architecture is scored and chosen (by name: the refusal
        says which changed), the models, and what orders the proposals. Not how far the
        search may go (the evaluations, Archon's iteration counts, the budget) nor how
        fast, nor where: a search resumed with more evaluations continues the same
        proposals, as the algorithms depend on the scores so far and the seed only."""
        return {
            **_space_settings(self.settings),
            "models": [m.model for m in self.models],
            "benchmark": self.benchmark,
            "mode": self.mode,
            "algorithm": self.algorithm,
            "seed": self.seed,
            "parallel": self.parallel,
        }

    async def run(self) -> dict[str, Any]:
        """Run the search to the end; returns the report (also in ``report.json``)."""
        async for _ in self.events():
            pass
        assert self.result is not None
        return self.result

    async def events(self) -> AsyncIterator[SearchEvent]:
        """Run the search, yielding what happens as it happens.

        While it runs, the run directory is locked (``search.json.lock``, released by the
        system if the process dies, so a killed search resumes).

        Raises:
            InvalidInputError: another search is running in the run directory (before any
                call).
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        lock = output_lock_path(self.run_dir / "search.json")
        busy = (
            f"{self.run_dir}: another search is running in this run directory (its lock "
            f"{lock} is held); wait for it to end (or stop it) and run this search again "
            "to resume it there, or give another run directory (--run-dir)"
        )
        with output_lock(self.run_dir / "search.json", busy=busy):
            async with aclosing(self._events()) as events:
                async for event in events:
                    yield event

    async def _events(self) -> AsyncGenerator[SearchEvent, None]:
        started = time.monotonic()
        self._deadline = started + self.budget.wall_time_s if self.budget.wall_time_s else None
        if self.mode == "real":
            self._check_keys()
        record = RunRecord(self.run_dir, self.identity())
        before = record.load_json("outside_spend.json") or {}
        self._spent_before = _spent_before(record)
        async with AsyncExitStack() as stack:
            evaluator_for = await self._evaluators(stack)
            ranking = record.load_json("ranking.json")
            if ranking is None:
                ranking = {}
                try:
                    async for ranked_one in self._rank(evaluator_for, record, before, ranking):
                        yield ranked_one
                except BudgetExceededError:
                    ranking = None
            if ranking is None:
                reason = self._cap_reason()
                yield SearchEvent("stopped", {"reason": reason})
                self.result = self._stopped_in_ranking(record, before, reason, started)
                yield SearchEvent("finished", self.result)
                return
            ranked = sorted(self.models, key=lambda m: -float(ranking[m.model]))
            yield SearchEvent("ranked", {"ranking": ranking, "order": [m.model for m in ranked]})
            space = Space(self.settings, ranked)
            if not len(space):  # dollars depend on which model ranks first (it fuses last)
                raise ConfigError(space.why_empty(), source=str(self.path))
            evaluator = evaluator_for(space)
            race = self._race(evaluator, record)
            scores: dict[Candidate, float] = {}
            proposals = make_algorithm(
                self.algorithm, space, scores, seed=self.seed, batch=self.parallel
            )
            stop = ""
            count = 0
            # The architectures budget caps the planned evaluations; reaching it is a stop.
            limit = self.planned_architectures()
            for batch in proposals:
                stop = self._over_budget(record, started, count)
                if stop:
                    break
                batch = batch[: limit - count]
                done = await self._evaluate_batch(evaluator, record, batch, count, scores)
                count += len(batch)
                for evaluation in done:
                    sent = self._spent_so_far() if self.callpath is not None else None
                    event = _event(evaluation, record, min(limit, len(space)), sent)
                    yield SearchEvent("evaluated", event)
                self._save_spent(record)
                stop = self._cap_reached()
                if stop:
                    break  # the batch's cut evaluations are not told: a resume redoes them
                if race is not None:
                    answered = race.answered
                    try:  # the leaders rest on more questions before the next proposals
                        made = await race.follow_leaders(scores, upto=count)
                    except BudgetExceededError:
                        stop = self._cap_reason()
                        break
                    if made:
                        yield self._raced(made, race.answered - answered)
                if count >= limit:
                    if limit < min(self.evaluations, len(space)):
                        stop = "budget: architectures"
                    break  # never resume the algorithm past its last scored proposal
            record.rewrite()  # in proposal order, whatever order they finished in
            if stop:
                yield SearchEvent("stopped", {"reason": stop})
            truth = getattr(evaluator, "truth", None)
            head = self._report_head(space, stop, started)
            chosen = None
            count = self.settings.number_of_archon_configs_for_final_ranking
            try:
                if race is not None and race.size > race.dev and count and not stop:
                    async for progress in race.final_stages(count):
                        yield SearchEvent("final_scored", progress)
                    final = race.final_ranking
                    # Each with its pooled estimate; listed by what chose, best first.
                    points = [race.final_points(entry["key"]) for entry in final]
                    final = choose(space, list(record.evaluations.values()), final, points)
                    record.save_json("final_ranking.json", final)
                    head["final_ranking"] = final
                    if final:
                        head["chosen_by"] = CHOSEN_BY
                        chosen = final[0]["key"]
                if chosen is not None:
                    head["held_out"] = await self._held_out(evaluator, record, chosen)
            except (BudgetExceededError, _WallTimeUp) as exc:
                # The cap ran out in the final stages: the search's results stand, written
                # below; a rerun with a larger budget finishes them from the record.
                stop = "budget: wall_time_s" if isinstance(exc, _WallTimeUp) else self._cap_reason()
                head["stopped_by"] = stop
                yield SearchEvent("stopped", {"reason": stop})
            if race is not None:
                head["racing"] = race.spend()
            head["wall_time_s"] = round(time.monotonic() - started, 3)  # final stages too
            head["sent"] = self._sent()
            self._save_outside(record, before)
            self._save_spent(record)
            self.result = write_outputs(record, space, head, truth, chosen=chosen)
        yield SearchEvent("finished", self.result)

    async def _rank(
        self,
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
        evaluator = evaluator_for(Space(self.settings, self.models))
        if not isinstance(evaluator, EngineEvaluator):  # scores known at once: no calls
            ranking.update(await evaluator.rank_models())
        else:
            of, questions = len(self.models), len(evaluator.ranking)
            yield SearchEvent("ranking", {"done": 0, "of": of, "questions": questions})
            async for model, score in evaluator.rank_each():
                ranking[model] = score
                yield SearchEvent(
                    "ranking",
                    {
                        "model": model,
                        "score": score,
                        "done": len(ranking),
                        "of": of,
                        "questions": questions,
                        "spent": self._spent_so_far(),
                    },
                )
        record.save_json("ranking.json", ranking)
        self._save_outside(record, before)
        self._save_spent(record)

    def _raced(self, made: int, questions: int) -> SearchEvent:
        """A ``raced`` event: ``made`` re-evaluations of leaders answered ``questions``
        more questions (0 when a resumed search read them back), and the spend so far."""
        spent = self._spent_so_far() if self.callpath is not None else None
        return SearchEvent("raced", {"leaders": made, "questions": questions, "spent": spent})

    def _stopped_in_ranking(
        self, record: RunRecord, before: dict[str, Any], reason: str, started: float
    ) -> dict[str, Any]:
        """The outputs of a search whose budget ran out while it ranked the models."""
        space = Space(self.settings, self.models)
        head = self._report_head(space, reason, started)
        head["sent"] = self._sent()
        # What the ranking sent counts on a resume (the cap spans every run).
        self._save_outside(record, before)
        self._save_spent(record)
        return write_outputs(record, space, head, None)

    async def _held_out(self, evaluator: Any, record: RunRecord, chosen: str) -> Any:
        """The chosen architecture's score on the held-out questions (kept in
        ``held_out.json`` for a resume), or None when there are none."""
        if not getattr(evaluator, "report", None):
            return None
        done = record.load_json("held_out.json")
        if done is not None and done.get("key") == chosen:
            return done
        params = record.evaluations[chosen].params
        self._check_wall_time()
        entry = {"key": chosen, **await evaluator.score_report(Candidate.from_params(params))}
        record.save_json("held_out.json", entry)
        return entry

    def _race(self, evaluator: Any, record: RunRecord) -> Race | None:
        """The racing state (`archon_async.search._racing`) of an evaluator on questions
        (engine or sampled; the oracle's exact scores need none)."""
        if not isinstance(evaluator, EngineEvaluator | SampledEvaluator):
            return None
        racing = self.settings.archon_async.racing
        return Race(
            evaluator,
            record,
            leaders=racing.leaders if racing.enabled else 0,
            leader_questions=racing.leader_questions,
            draws=racing.draws if racing.enabled else 1,
            check=self._check_wall_time,
        )

    def _check_wall_time(self) -> None:
        """Start no new final-stage scoring once the wall-time budget is spent (one can
        take longer than the whole search: every final-ranking question, for each of the
        best architectures); the one in flight finishes, as in the search.

        Raises:
            _WallTimeUp: the budget's ``wall_time_s`` has passed.
        """
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise _WallTimeUp

    def _save_outside(self, record: RunRecord, before: dict[str, Any]) -> None:
        """Keep the spend of no evaluation (``outside_spend.json``): what earlier runs of
        this search spent (``before``) plus this run's, so a resumed search counts it all."""
        spend: dict[str, Any] = {}
        add_by_model(spend, before)
        add_by_model(spend, by_model(self.outside))
        record.save_json("outside_spend.json", spend)

    def _save_spent(self, record: RunRecord) -> None:
        """What every run of this search sent so far (``spent.json``: the budget's base
        when it resumes)."""
        record.save_json("spent.json", self._spent_so_far())

    def _spent_so_far(self) -> dict[str, Any]:
        """Calls, tokens and dollars every run of this search sent so far, as its budget
        counts them (what progress shows: a resumed search goes on from its earlier runs)."""
        sent = self._sent()
        calls, tokens, dollars = self._spent_before
        return {
            "calls": calls + sent["calls"],
            "tokens": tokens + sent["tokens"],
            "dollars": usd(dollars + sent["dollars"]),
        }

    def _cap_reached(self) -> str:
        """Why the hard cap stopped the search (a call was refused), or ''."""
        cap = self._cap
        if cap is None or cap.refused_at is None:
            return ""
        return self._cap_reason()

    def _cap_reason(self) -> str:
        """Which of the search's caps on calls, tokens and dollars is spent, over every run
        of the search (e.g. ``budget: calls (150 of 150 sent)``)."""
        sent = self._sent()
        before = dict(zip(("calls", "tokens", "dollars"), self._spent_before, strict=True))
        for name in ("calls", "tokens", "dollars"):
            cap = getattr(self.budget, name)
            used = before[name] + sent[name]
            if cap is not None and used >= cap:
                said = usd_text if name == "dollars" else "{:,.0f}".format
                return f"budget: {name} ({said(used)} of {said(cap)} sent)"
        return "budget: calls (the rest are in flight)"

    def _over_budget(self, record: RunRecord, started: float, count: int) -> str:
        """Why no new batch may start, or ''."""
        if self._cap is not None and self._cap.exceeded():
            return self._cap_reason()
        spent = record.evaluations.values()
        budget = self.budget
        checks = (
            (budget.calls, sum(e.calls for e in spent), "calls"),
            (budget.tokens, sum(e.tokens for e in spent), "tokens"),
            (budget.dollars, sum(e.dollars for e in spent), "dollars"),
            (budget.wall_time_s, time.monotonic() - started, "wall_time_s"),
        )
        for cap, used, name in checks:
            if cap is not None and used >= cap:
                return f"budget: {name}"
        return ""

    async def _evaluate_batch(
        self,
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
        full = [
            e.ci[0] for e in record.evaluations.values() if not e.stopped_early and e.n <= count
        ]
        best = max(full) if full else None

        async def one(candidate: Candidate, n: int) -> None:
            held = record.evaluations.get(candidate.key())
            if held is None:
                try:
                    held = await evaluator.evaluate(candidate, n, stop_below=best)
                except BudgetExceededError:
                    return
                if self._cap_reached():
                    return  # it may have lost calls to the hard cap: a resume redoes it
                record.add(held)
            results[candidate] = held

        async with anyio.create_task_group() as group:
            for offset, candidate in enumerate(batch):
                group.start_soon(one, candidate, count + offset + 1)
        if len(results) < len(batch):
            return [results[c] for c in batch if c in results]
        # Told in proposal order, whatever order they finished in: the same history.
        for candidate in batch:
            scores[candidate] = results[candidate].objective
        return [results[c] for c in batch]

    async def _evaluators(self, stack: AsyncExitStack) -> Any:
        if self.sampled:
            return self._sampled_evaluators()
        if self.oracle:
            judged = self._benchmark.scoring == "judge"
            cost_weight = self._cost_weight()

            def oracle(space: Space) -> OracleEvaluator:
                return OracleEvaluator(
                    space, Truth(space, self.effects, judged=judged), cost_weight=cost_weight
                )

            return oracle
        return await self._engine_evaluators(stack)

    def _sampled_evaluators(self) -> Any:
        dev, final, report = self._questions.splits()
        ranking = self.ranking_questions(dev)
        numbers = self.question_numbers([*dev, *final, *ranking, *report])
        ext = self.settings.archon_async

        def pairs(items: list[Any]) -> list[tuple[str, int]]:
            return [
                (item.id, numbers[item.messages[-1]["content"]]) for item in items if item.messages
            ]

        def sampled(space: Space) -> SampledEvaluator:
            judged = self._benchmark.scoring == "judge"
            evaluator = SampledEvaluator(
                space,
                Truth(space, self.effects, judged=judged),
                pairs(dev),
                pairs(final),
                pairs(ranking),
                seed=self.seed,
                judged=judged,
                early_fraction=(
                    ext.early_stopping.first_fraction if ext.early_stopping.enabled else None
                ),
                early_z=ext.early_stopping.z,
                cost_weight=self._cost_weight(),
            )
            evaluator.report = pairs(report)
            return evaluator

        return sampled

    def _cost_weight(self) -> float:
        ext = self.settings.archon_async
        return ext.cost_weight if ext.objective == "score_per_dollar" else 0.0

    async def _engine_evaluators(self, stack: AsyncExitStack) -> Any:
        from ..callpath import CallPath, SpendJournal

        dev, final, report = self._questions.splits()
        ranking = self.ranking_questions(dev)
        simulate: Any = False
        if self.simulate:
            # The call path starts the server from these settings, so its cache entries are
            # keyed by them, not by the server's port: a rerun (a resumed search) finds them.
            simulate = self.simulation_settings([*dev, *final, *ranking, *report])
        # One call path for the whole search: every architecture shares its limits, and its
        # response cache (in the run dir) makes layers that architectures share, a resumed
        # search and the baseline's answers cost nothing the second time.
        callpath = CallPath(
            keys=None if self.simulate else self.keys,
            simulate=simulate,
            cache=self.run_dir / "cache.sqlite",
            providers=self.settings.archon_async.providers or None,
            budget=self._hard_cap(),
        )
        await stack.enter_async_context(callpath)
        # Each request is recorded before it is sent: a killed search's spend is known to
        # the next run (`_spent_before`), so the hard cap spans every run, kills included.
        callpath.journal = SpendJournal(self.run_dir / SPEND_JOURNAL)
        stack.callback(callpath.journal.close)
        self.callpath = callpath
        self.simulator = callpath.simulator
        options: dict[str, Any] = {"seed": self.seed, "callpath": callpath}
        ext = self.settings.archon_async
        judge = _single(self._resolve(self.settings.judge_model))
        baseline = _single(self._resolve(self.settings.baseline_model, "baseline_model"))

        def engine(space: Space) -> EngineEvaluator:
            evaluator = EngineEvaluator(
                space,
                self._benchmark,
                dev,
                engine_options=options,
                judge=judge,
                baseline=baseline,
                pairwise=ext.scoring != "single",
                early_fraction=(
                    ext.early_stopping.first_fraction if ext.early_stopping.enabled else None
                ),
                early_z=ext.early_stopping.z,
                cost_weight=self._cost_weight(),
                mode=self.mode,
                final=final,
                ranking=ranking,
                outside=self.outside,
            )
            evaluator.report = report
            return evaluator

        return engine

    def _check_keys(self) -> None:
        """Every hosted provider the space, the judge and the baseline use has a key, checked
        before the run directory is written and before any call.

        Raises:
            ConfigError: naming the search file, the provider and how to give a key.
        """
        from .._keys import keyless_provider, load_key_sets

        refs = [*self.models, self._resolve(self.settings.judge_model)]
        refs.append(self._resolve(self.settings.baseline_model, "baseline_model"))
        types = {ref.model_type for ref in refs if ref is not None}
        missing = keyless_provider(types, load_key_sets(self.keys))
        if missing is None:
            return
        # The search's own advice, once each (the engine's names run/batch options).
        model_type, names = missing
        needed = (
            f"{model_type} needs an API key and none is given: set {' or '.join(names)} (and "
            f"{names[0]}_2, ... for more keys) in the environment or in a .env file, or give "
            f"a JSON key file ({{{names[0]!r}: ['...']}}, Archon's api_keys.json)"
        )
        raise ConfigError(
            f"{needed} as Search(keys=PATH); or simulate=True to search on the simulated provider",
            source=str(self.path),
            cli_hint=f"{needed} with --keys FILE; or add --simulate to search on the "
            "simulated provider",
        )

    def simulation_settings(self, questions: list[Any]) -> Any:
        """The simulated provider's settings for this search: its models' skills, the seed,
        and the answer key of ``questions``, whose replies follow the seeded effects (so the
        expected score of each architecture is its exact `Truth` score)."""
        from ..benchmarks import simulated_answer_key
        from ..simulate import ModelSettings, SimulationSettings
        from ..simulate._effects import GroundTruth

        models = {m.model: ModelSettings(skill=self.effects.skill(m.model)) for m in self.models}
        given = {
            "seed": self.seed,
            "models": models,
            "answer_key": simulated_answer_key(self._benchmark.name, questions),
            "ground_truth": GroundTruth(
                effects=self.effects, questions=self.question_numbers(questions)
            ),
        }
        return SimulationSettings.model_validate({**given, **self.simulator_options})

    def _hard_cap(self) -> Any:
        """The call path's budget for the calls, tokens and dollars caps, less what the
        record says earlier runs of this search spent: checked before every call, so the
        calls never go over and tokens and dollars by at most the calls in flight."""
        from ..callpath import Budget as CallBudget

        budget = self.budget
        if budget.calls is None and budget.tokens is None and budget.dollars is None:
            return None
        calls, tokens, dollars = self._spent_before

        def left(cap: float | None, used: float) -> Any:
            return None if cap is None else max(0, cap - used)

        self._cap = CallBudget(
            max_calls=left(budget.calls, calls),
            max_tokens=left(budget.tokens, tokens),
            max_cost_usd=left(budget.dollars, dollars),
            per_call=True,
        )
        return self._cap

    def planned_architectures(self) -> int:
        """The architectures this run evaluates at most: the planned evaluations, capped by
        the architectures budget (reaching that cap is a budget stop)."""
        return min(self.evaluations, self.budget.architectures or self.evaluations)

    def unpriced_models(self) -> list[str]:
        """The models of the space, the judge and the baseline with no list price."""
        refs = [*self.models, self._resolve(self.settings.judge_model)]
        refs.append(self._resolve(self.settings.baseline_model, "baseline_model"))
        return unpriced(ref.model for ref in refs if ref is not None)

    def _check_prices(self) -> None:
        """A dollar objective, constraint or budget needs a price for every model: an
        unpriced one would count as $0 (the cheapest of all) without a word.

        Raises:
            ConfigError: naming the unpriced models and the dollar settings to drop.
        """
        ext = self.settings.archon_async
        uses = [
            name
            for name, used in (
                ("objective score_per_dollar", ext.objective == "score_per_dollar"),
                ("constraints.max_dollars_per_query", ext.constraints.max_dollars_per_query),
                ("budget dollars", self.budget.dollars),
            )
            if used
        ]
        missing = self.unpriced_models() if uses else []
        if missing:
            raise ConfigError(
                f"no list price for {', '.join(missing)}, so the {' and the '.join(uses)} "
                "would count their calls as $0: drop the dollar settings (use calls or "
                "tokens instead) or use models with a list price",
                source=str(self.path),
            )

    def _check_judging(self) -> None:
        """The judge and the baseline load, and a run that judges has them: checked before
        the run directory is written (a mistake there would leave a directory that refuses
        the corrected file) and before any call.

        Raises:
            ConfigError: naming the search file, the key and what to set.
        """
        for key in ("judge_model", "baseline_model"):
            self._resolve(getattr(self.settings, key), key)
        if self.mode not in ("simulated", "real") or self._benchmark.scoring != "judge":
            return  # the oracle and the sampled path score by the ground truth
        from ..benchmarks import judge_kind

        needed = ["judge_model"]
        if self.settings.archon_async.scoring != "single" and judge_kind(self.benchmark) == (
            "pairwise"
        ):
            needed.append("baseline_model")
        missing = [key for key in needed if getattr(self.settings, key) is None]
        if missing:
            raise ConfigError(
                f"{self.benchmark} is scored by an LLM judge"
                + (" against a baseline's answers" if "baseline_model" in needed else "")
                + f": set {' and '.join(missing)} (a single-model Archon config, e.g. "
                '"configs/individual_models/gpt-4o-mini.json")',
                source=str(self.path),
            )

    def _resolve(
        self, entry: str | dict[str, Any] | None, key: str = "judge_model"
    ) -> ModelRef | None:
        from ._models import resolve_model

        if entry is None:
            return None
        return resolve_model(entry, base=self.path.resolve().parent, where=f"{self.path}: {key}")

    def questions(self) -> tuple[list[Any], list[Any]]:
        """The dev questions and the final-ranking ones (disjoint, seeded)."""
        dev, final, _ = self._questions.splits()
        return dev, final

    def report_questions(self) -> list[Any]:
        """The held-out questions: disjoint from the dev and final-ranking ones, scored
        for the report only (the chosen architecture's unbiased score), never to choose."""
        return self._questions.splits()[2]

    def ranking_questions(self, dev: list[Any]) -> list[Any]:
        """The questions each model alone is ranked on (see `QuestionSets.ranking`)."""
        return self._questions.ranking(dev)

    def question_numbers(self, items: list[Any]) -> dict[str, int]:
        """Question text -> the simulated effects' question it plays: the benchmark's
        i-th question plays question ``i % effects.questions``."""
        return self._questions.numbers(items, self.effects.questions)

    def estimate(self) -> dict[str, Any]:
        """What the search is expected to spend, before any call (a range). When its run
        directory holds this search already (stopped by a budget, or killed), also what
        its earlier runs sent (``spent``, as the budget counts it) and what the whole
        search is expected to send beyond it (``remaining``: expected less spent, at least
        0): the same command sends about that much more."""
        from ._estimate import estimate

        result = estimate(self)
        spent = self._spent_earlier()
        if spent is not None:
            result["spent"] = spent
            left = {w: max(0, result[w]["expected"] - spent[w]) for w in ("calls", "tokens")}
            dollars = usd(max(0.0, result["dollars"]["expected"] - spent["dollars"]))
            result["remaining"] = left | {"dollars": dollars}
        return result

    def _spent_earlier(self) -> dict[str, Any] | None:
        """What earlier runs of this search sent (None when the run directory holds no
        run of it); reads only, so an estimate writes nothing."""
        import orjson

        from ..callpath import SpendJournal

        meta = self.run_dir / "search.json"
        if not meta.exists() or orjson.loads(meta.read_bytes()) != self.identity():
            return None
        totals = SpendJournal.totals(self.run_dir / SPEND_JOURNAL)
        if totals is None:
            return None
        return {"calls": totals.calls, "tokens": totals.tokens, "dollars": usd(totals.cost_usd)}

    def _sent(self) -> dict[str, Any]:
        """What this run of the search sent to the provider, ranking and judge included
        (cache hits apart: they cost nothing)."""
        if self.callpath is None:
            return {"calls": 0, "cache_hits": 0, "tokens": 0, "dollars": 0.0}
        spent = self.callpath.spent()
        return {
            "calls": spent.calls,
            "cache_hits": spent.cache_hits,
            "input_tokens": spent.input_tokens,
            "output_tokens": spent.output_tokens,
            "tokens": spent.tokens,
            "dollars": usd(spent.cost_usd),
        }

    def _report_head(self, space: Space, stop: str, started: float) -> dict[str, Any]:
        return {
            "search_file": str(self.path),
            "benchmark": self.benchmark,
            "mode": self.mode,
            "simulated": self.mode != "real",
            "algorithm": self.algorithm,
            "seed": self.seed,
            "parallel": self.parallel,
            "space_size": len(space),
            "infeasible_removed": space.infeasible,
            "stopped_by": stop or None,
            "wall_time_s": round(time.monotonic() - started, 3),
        }


class _WallTimeUp(Exception):
    """The wall-time budget passed before a final-stage scoring started."""


def _spent_before(record: RunRecord) -> tuple[int, int, float]:
    """What earlier runs of a search sent: the spend journal (written before each request,
    so it holds what a killed run sent) or ``spent.json`` (saved between steps; it alone
    holds the runs made before there was a journal), the larger of each, else the
    evaluations' spend."""
    from ..callpath import SpendJournal

    held = record.load_json("spent.json")
    journal = SpendJournal.totals(record.run_dir / SPEND_JOURNAL)
    if held is not None or journal is not None:
        saved = (0, 0, 0.0) if held is None else (held["calls"], held["tokens"], held["dollars"])
        logged = (
            (0, 0, 0.0) if journal is None else (journal.calls, journal.tokens, journal.cost_usd)
        )
        return (
            int(max(saved[0], logged[0])),
            int(max(saved[1], logged[1])),
            float(max(saved[2], logged[2])),
        )
    spent = record.evaluations.values()
    return (
        sum(e.calls for e in spent),
        sum(e.tokens for e in spent),
        sum(e.dollars for e in spent),
    )


#: Settings that do not make a search another one: how far it may go (Archon's iteration
#: counts, our evaluations and budget), how fast (rate limits), where it writes, the
#: estimate's token guesses, and what `Search.identity` holds resolved (the algorithm,
#: the benchmark, the architectures in flight at once).
_FREE_SETTINGS = {
    "random_search_iterations",
    "init_points",
    "n_iter",
    "search_iterations",
    "base_output_directory",
    "search_algorithm_choice",
    "benchmark",
}
_FREE_OURS = {
    "evaluations",
    "budget",
    "providers",
    "run_dir",
    "prompt_tokens",
    "answer_tokens",
    "algorithm",
    "parallel",
}


def _space_settings(settings: SearchFile) -> dict[str, Any]:
    """The search file's settings that define the search, by name (ours as
    ``archon_async.NAME``), JSON-ready."""
    exclude: dict[str, Any] = dict.fromkeys(_FREE_SETTINGS, True)
    dumped = settings.model_dump(mode="json", exclude=exclude | {"archon_async": _FREE_OURS})
    ours = dumped.pop("archon_async")
    return dumped | {f"archon_async.{name}": value for name, value in ours.items()}


def _single(model: ModelRef | None) -> dict[str, Any] | None:
    if model is None:
        return None
    return {
        "name": model.name,
        "layers": [
            [
                {
                    "type": "generator",
                    "model": model.model,
                    "model_type": model.model_type,
                    "samples": 1,
                }
            ]
        ],
    }


def _search_budget(budget: Any, source: str) -> Budget | None:
    """The search's caps from a search `Budget`, an engine `archon_async.Budget` (its
    max_calls, max_tokens and max_cost_usd read as calls, tokens and dollars) or a dict.

    Raises:
        ConfigError: a cap out of range, or a value that is no budget.
    """
    from ..callpath import Budget as EngineBudget

    if budget is None or isinstance(budget, Budget):
        return budget
    if isinstance(budget, EngineBudget):
        budget = {
            "calls": budget.max_calls,
            "tokens": budget.max_tokens,
            "dollars": budget.max_cost_usd,
        }
    if not isinstance(budget, dict):
        raise ConfigError(
            f"budget must be an archon_async.search.Budget, an archon_async.Budget or a dict, "
            f"not {type(budget).__name__}"
        )
    try:
        return Budget.model_validate(budget)
    except ValidationError as exc:
        raise validation_error(exc, source, Budget, ("budget",)) from None


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
