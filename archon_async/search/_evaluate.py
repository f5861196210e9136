"""Evaluating architectures: exactly (the simulated oracle), or by running them.

`OracleEvaluator` scores a candidate by its exact expected score under the simulated
effects: no call is made, so the search algorithm alone is measured. `EngineEvaluator`
runs the candidate's Archon config through an `Engine` on the dev questions, all of them
concurrently (bounded), and scores the answers with the benchmark's built-in scorer or,
for judged benchmarks, with the LLM judge (itself an architecture) against a baseline
whose answers are generated once, or by single ratings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

import anyio

from .._batch_answer import answer_item
from .._batch_io import BatchItem
from .._engine import Engine
from .._exceptions import BudgetExceededError, OutputParseError
from .._progress import BatchStats
from ..benchmarks import (
    Benchmark,
    BenchmarkItem,
    build_judge_messages,
    judge_kind,
    parse_judgement,
    score_all,
)
from ._failures import ProviderOutageError, outage_of
from ._interval import interval, summary
from ._race_questions import position_pairs
from ._record import Evaluation
from ._space import Candidate, Space
from ._spend import RunStats, by_model
from ._truth import Truth

__all__ = ["EngineEvaluator", "Evaluator", "OracleEvaluator"]


class Evaluator(Protocol):
    """What the search needs from an evaluator."""

    mode: str

    async def rank_models(self) -> dict[str, float]:
        """Each available model alone: model id -> score in points."""
        ...

    async def evaluate(
        self, candidate: Candidate, n: int, *, stop_below: float | None
    ) -> Evaluation:
        """Score ``candidate`` (the ``n``-th proposal); ``stop_below``: the lower end of
        the interval of the best full score so far, for early stopping."""
        ...


class OracleEvaluator:
    """Exact expected scores: noise-free, no calls (``--simulate --oracle``)."""

    mode = "oracle"

    def __init__(self, space: Space, truth: Truth, *, cost_weight: float = 0.0) -> None:
        self.space = space
        self.truth = truth
        self.cost_weight = cost_weight

    async def rank_models(self) -> dict[str, float]:
        return {m.model: self.truth.model_score(m.model) for m in self.space.models}

    async def evaluate(
        self, candidate: Candidate, n: int, *, stop_below: float | None
    ) -> Evaluation:
        score = round(self.truth.score(candidate), 6)
        return Evaluation.estimated(
            self.space,
            candidate,
            n,
            score=score,
            ci=(score, score),
            questions=self.truth.effects.questions,
            cost_weight=self.cost_weight,
            mode="oracle",
        )


class EngineEvaluator:
    """Runs architectures on benchmark questions through the engine.

    Args:
        space: the space (its models in ranked order once `rank_models` ran).
        benchmark: the benchmark.
        dev: the questions scores are computed on.
        engine_options: passed to every `Engine` (``simulate=``, ``keys=``, ``seed=``).
        judge, baseline: single-model Archon configs (judged benchmarks).
        pairwise: judge against the baseline (else single ratings).
        concurrency: questions in flight per architecture.
        early_fraction, early_z: early stopping (``early_fraction=None``: off).
        mode: ``simulated`` or ``real`` (stamped on every evaluation).
        outside: counts the calls of no evaluation (the model ranking, the baseline's
            answers, the final-ranking scoring); shared by the evaluators of one search.
        final: the final-ranking questions (disjoint from ``dev``).
        ranking: the questions each model alone is ranked on (default: ``dev``).
    """

    def __init__(
        self,
        space: Space,
        benchmark: Benchmark,
        dev: Sequence[BenchmarkItem],
        *,
        engine_options: dict[str, Any],
        judge: dict[str, Any] | None = None,
        baseline: dict[str, Any] | None = None,
        pairwise: bool = True,
        concurrency: int = 16,
        early_fraction: float | None = None,
        early_z: float = 2.0,
        cost_weight: float = 0.0,
        mode: str = "simulated",
        final: Sequence[BenchmarkItem] = (),
        ranking: Sequence[BenchmarkItem] | None = None,
        outside: BatchStats | None = None,
    ) -> None:
        self.space = space
        self.outside = outside if outside is not None else BatchStats(total=0)
        self.benchmark = benchmark
        self.dev = list(dev)
        self.engine_options = engine_options
        self.judge = judge
        self.baseline = baseline
        self.pairwise = pairwise
        self.concurrency = concurrency
        self.early_fraction = early_fraction
        self.early_z = early_z
        self.cost_weight = cost_weight
        self.mode = mode
        self.final = list(final)
        #: held-out questions: the chosen architecture's score for the report, set by the
        #: search (none by default).
        self.report: list[BenchmarkItem] = []
        self.ranking = list(ranking) if ranking is not None else self.dev
        self._baseline_answers: dict[str, str] | None = None

    async def rank_models(self) -> dict[str, float]:
        return {model: score async for model, score in self.rank_each()}

    async def rank_each(self) -> AsyncIterator[tuple[str, float]]:
        """Each available model alone on the ranking questions, one after the other:
        yields (model id, score in points) as each is done (a live display shows them:
        the ranking can take as long as many evaluations)."""
        ext = self.space.settings.archon_async
        temp, most = ext.temperature, ext.max_tokens
        for model in self.space.models:
            config = {
                "name": model.name,
                # As the architectures ask it (the file's temperature and max_tokens), so
                # that their generators' first samples are these answers, from the cache.
                "layers": [[model.component(samples=1, temperature=temp, max_tokens=most)]],
            }
            values, _ = await self._run(config, self.ranking, self.outside, self.outside)
            yield model.model, 100.0 * sum(values) / max(1, len(values))

    async def evaluate(
        self, candidate: Candidate, n: int, *, stop_below: float | None
    ) -> Evaluation:
        config = self.space.archon_config(candidate)
        stats = RunStats(total=len(self.dev))
        # The judge's calls count in the search's spend, not in the architecture's per query.
        judge_stats = BatchStats(total=len(self.dev))
        questions = self.dev
        stopped = False
        if self.early_fraction and stop_below is not None and len(self.dev) >= 10:
            cut = max(5, int(len(self.dev) * self.early_fraction))
            first, _ = await self._run(config, self.dev[:cut], stats, judge_stats)
            # Clearly weaker: even the top of its interval (z wide) is below the best so far.
            if interval([100.0 * v for v in first], z=self.early_z)[1] < stop_below:
                values, stopped, questions = first, True, self.dev[:cut]
            else:
                rest, _ = await self._run(config, self.dev[cut:], stats, judge_stats)
                values = first + rest
        else:
            values, _ = await self._run(config, self.dev, stats, judge_stats)
        points = [100.0 * v for v in values]
        score = round(sum(points) / max(1, len(points)), 6)
        dollars, _ = stats.cost()
        calls, tokens, hits = stats.calls, stats.tokens, stats.cache_hits
        judge_dollars, _ = judge_stats.cost()
        asked = max(1, len(questions))
        # Per query: as if run alone (cache hits at their first cost), whatever ran before.
        calls_alone, tokens_alone, dollars_alone, missing = stats.alone_totals()
        return Evaluation(
            key=candidate.key(),
            n=n,
            params=candidate.params(),
            score=score,
            ci=interval(points),
            objective=round(score - self.cost_weight * dollars_alone / asked, 6),
            questions=len(questions),
            calls_per_query=round(calls_alone / asked, 4),
            tokens_per_query=round(tokens_alone / asked, 2),
            dollars_per_query=round(dollars_alone / asked, 8),
            unpriced_models=missing,
            calls=calls + judge_stats.calls,
            tokens=tokens + judge_stats.tokens,
            dollars=round(dollars + judge_dollars, 6),
            cache_hit_share=round(hits / max(1, calls + hits), 4),
            stopped_early=stopped,
            mode=self.mode,
            per_model=by_model(stats, judge_stats),
        )

    async def score_final(self, candidate: Candidate) -> dict[str, Any]:
        """The candidate's score on the final-ranking questions: ``{"score", "ci",
        "questions", "points"}`` (``points``: per question, in the questions' order, which
        the final ranking compares finalists by)."""
        return await self._score_on(candidate, self.final, points=True)

    def selection_size(self, draws: int) -> int:
        """Selection positions (dev, then final-ranking questions) in ``draws`` passes:
        pass ``p`` runs every question as `Engine.generate`'s draw ``p``, samples of its
        own in the response cache (an independent answer where the models sample)."""
        return (len(self.dev) + len(self.final)) * max(1, draws)

    async def score_positions(self, candidate: Candidate, start: int, stop: int) -> list[float]:
        """Per-question points on selection positions ``start`` to ``stop``: position
        ``i`` is question ``i % P`` (dev questions, then final-ranking ones) of pass
        ``i // P``, run as draw ``i // P`` (pass 0's dev answers come from the cache; every
        architecture on a pass shares its samples, so the comparison stays paired). Never
        a report question."""
        single = len(self.dev) + len(self.final)
        return await self.score_questions(candidate, position_pairs(start, stop, single))

    async def score_questions(
        self, candidate: Candidate, pairs: Sequence[tuple[int, int]]
    ) -> list[float]:
        """Per-question points on ``pairs`` (selection question index, draw: as
        `score_positions` numbers them), in their order; each run of one draw is answered
        as one batch."""
        pool = [*self.dev, *self.final]
        points: list[float] = []
        first = 0
        while first < len(pairs):
            draw = pairs[first][1]
            last = first
            while last < len(pairs) and pairs[last][1] == draw:
                last += 1
            items = [pool[q] for q, _ in pairs[first:last]]
            scored = await self._score_on(candidate, items, points=True, draw=draw)
            points += scored["points"]
            first = last
        return points

    async def score_report(self, candidate: Candidate) -> dict[str, Any]:
        """The candidate's score on the held-out questions (``report``), as `score_final`."""
        return await self._score_on(candidate, self.report)

    async def _score_on(
        self,
        candidate: Candidate,
        items: Sequence[BenchmarkItem],
        *,
        points: bool = False,
        draw: int = 0,
    ) -> dict[str, Any]:
        config = self.space.archon_config(candidate)
        values, _ = await self._run(config, items, self.outside, self.outside, draw=draw)
        scores = [100.0 * v for v in values]
        return summary(scores) | ({"points": scores} if points else {})

    async def _run(
        self,
        config: dict[str, Any],
        items: Sequence[BenchmarkItem],
        stats: BatchStats | None = None,
        judge_stats: BatchStats | None = None,
        *,
        draw: int = 0,
    ) -> tuple[list[float], dict[str, str]]:
        """Answer ``items`` with ``config`` (as `Engine.generate`'s ``draw``, the judge
        too); per-question scores in [0, 1], and the answers."""
        answers = await self._answer(config, items, stats, draw)
        return await self._score(items, answers, judge_stats, draw), answers

    async def _answer(
        self,
        config: dict[str, Any],
        items: Sequence[BenchmarkItem],
        stats: BatchStats | None,
        draw: int = 0,
    ) -> dict[str, str]:
        answers: dict[str, str] = {}
        gate = anyio.Semaphore(self.concurrency)
        refused: list[BudgetExceededError] = []
        outages: list[ProviderOutageError] = []
        async with Engine(config, **self.engine_options) as engine:

            async def one(item: BenchmarkItem) -> None:
                async with gate:
                    batch_item = BatchItem(
                        id=item.id, messages=item.messages, turns=item.turns, draw=draw
                    )
                    calls: list[Any] = []
                    try:
                        record = await answer_item(
                            engine, batch_item, attempts=2, stats=stats, calls=calls
                        )
                    except BudgetExceededError as exc:
                        # Not raised here: the other questions' calls in flight finish.
                        refused.append(exc)
                        return
                fault = outage_of(record, calls)
                if fault is not None:  # not a wrong answer: the provider's (see _failures)
                    what = f"{config.get('name', 'an architecture')} on question {item.id}"
                    outages.append(ProviderOutageError(what, fault))
                    return
                answers[item.id] = str(record.get("answer", ""))
                if "turns" in record:
                    answers[item.id + "\0turns"] = "\0".join(record["turns"])

            async with anyio.create_task_group() as group:
                for item in items:
                    group.start_soon(one, item)
        if refused:
            raise refused[0]
        if outages:
            raise outages[0]
        return answers

    async def _score(
        self,
        items: Sequence[BenchmarkItem],
        answers: dict[str, str],
        stats: BatchStats | None,
        draw: int = 0,
    ) -> list[float]:
        if self.benchmark.scoring != "judge":
            report = await score_all(self.benchmark, items, answers)
            by_id = {result.id: result.correct for result in report.results}
            return [1.0 if by_id.get(item.id) else 0.0 for item in items]
        return await self._judge(items, answers, stats, draw)

    async def _judge(
        self,
        items: Sequence[BenchmarkItem],
        answers: dict[str, str],
        stats: BatchStats | None,
        draw: int = 0,
    ) -> list[float]:
        """Judge the answers (the judge's verdicts of pass ``draw`` are its own draw too;
        the baseline's answers are generated once, on draw 0)."""
        if self.judge is None:
            raise ValueError("a judged benchmark needs judge_model in the search file")
        kind = judge_kind(self.benchmark) if self.pairwise else "rating"
        baseline = await self._baseline(items) if kind == "pairwise" else {}
        values: dict[str, float] = {}
        refused: list[BudgetExceededError] = []
        outages: list[ProviderOutageError] = []
        async with Engine(self.judge, **self.engine_options) as judge:

            async def one(item: BenchmarkItem) -> None:
                turns = answers.get(item.id + "\0turns")
                given: str | list[str] = turns.split("\0") if turns else answers[item.id]
                verdicts = []
                for swap in (False, True) if kind == "pairwise" else (False,):
                    messages = build_judge_messages(
                        self.benchmark, item, given, baseline=baseline.get(item.id), swap=swap
                    )
                    calls: list[Any] = []
                    try:
                        record = await answer_item(
                            judge,
                            BatchItem(id=item.id, messages=messages, draw=draw),
                            stats=stats,
                            calls=calls,
                        )
                    except BudgetExceededError as exc:
                        refused.append(exc)
                        return
                    fault = outage_of(record, calls)
                    if fault is not None:
                        outages.append(
                            ProviderOutageError(f"the judge on question {item.id}", fault)
                        )
                        return
                    try:
                        verdict = parse_judgement(
                            str(record.get("answer", "")), kind=kind, swap=swap
                        )
                    except OutputParseError:
                        continue  # an unreadable verdict counts as none
                    verdicts.append(
                        verdict.model_score if kind == "pairwise" else verdict.model_score / 10.0
                    )
                values[item.id] = sum(verdicts) / len(verdicts) if verdicts else 0.0

            async with anyio.create_task_group() as group:
                for item in items:
                    group.start_soon(one, item)
        if refused:
            raise refused[0]
        if outages:
            raise outages[0]
        return [values[item.id] for item in items]

    async def _baseline(self, items: Sequence[BenchmarkItem]) -> dict[str, str]:
        """The baseline's answers, generated once per question (dev or final ranking)."""
        if self.baseline is None:
            raise ValueError("a pairwise judgement needs baseline_model in the search file")
        if self._baseline_answers is None:
            self._baseline_answers = {}
        missing = [item for item in items if item.id not in self._baseline_answers]
        if missing:
            self._baseline_answers.update(await self._answer(self.baseline, missing, self.outside))
        return self._baseline_answers
