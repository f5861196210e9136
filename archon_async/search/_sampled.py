"""`SampledEvaluator`: evaluations with a real evaluation's noise, drawn from the ground truth.

``Search(simulate=True, oracle=True, sampled=True)`` scores an architecture the way a run
on the simulated provider would, question by question on the dev questions, but draws each
question's outcome from the simulated effects (`draw_answer` with `PairedDraws`) instead
of sending calls: architectures that share stages share their answers, as they share calls
through the response cache, and the expected score of each is its exact `Truth` score
(tests check both against the simulated provider run through the engine). It makes a
search of hundreds of architectures on noisy scores take seconds, to measure what a search
returns when its scores are noisy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._interval import interval, summary
from ._montecarlo import PairedDraws, draw_answer
from ._race_questions import position_pairs
from ._record import Evaluation
from ._space import Candidate, Space
from ._truth import Truth

__all__ = ["SampledEvaluator"]


class SampledEvaluator:
    """Noisy evaluations drawn from the simulated ground truth (no calls).

    Args:
        space: the space (its models in ranked order once `rank_models` ran).
        truth: the exact scores of that space (its effects decide every draw).
        dev: the dev questions, as (question id, the effects' question number it plays);
            draws are named by the id, so two questions playing one number draw apart.
        final: the final-ranking questions, likewise.
        ranking: those each model alone is ranked on (default: ``dev``).
        seed: the run's seed (the simulated provider's).
        judged: the benchmark is judged (``judge_skill`` applies).
        early_fraction, early_z, cost_weight: as for `EngineEvaluator`.
    """

    mode = "sampled"

    def __init__(
        self,
        space: Space,
        truth: Truth,
        dev: Sequence[tuple[str, int]],
        final: Sequence[tuple[str, int]] = (),
        ranking: Sequence[tuple[str, int]] | None = None,
        *,
        seed: int,
        judged: bool,
        early_fraction: float | None = None,
        early_z: float = 2.0,
        cost_weight: float = 0.0,
    ) -> None:
        self.space = space
        self.truth = truth
        self.dev = list(dev)
        self.final = list(final)
        #: held-out questions: the chosen architecture's score for the report, set by the
        #: search (none by default).
        self.report: list[tuple[str, int]] = []
        self.ranking = list(ranking) if ranking is not None else self.dev
        self.seed = seed
        self.judged = judged
        self.early_fraction = early_fraction
        self.early_z = early_z
        self.cost_weight = cost_weight
        # The draws of the dev and final-ranking questions, kept: every evaluation answers
        # the dev ones and racing's leaders the others, and architectures sharing stages
        # ask the same draws (about half of them). The further passes' draws (a few
        # finalists') are not kept.
        self._draws = {key: PairedDraws(seed, key, memo=True) for key, _ in self.dev + self.final}

    async def rank_models(self) -> dict[str, float]:
        skill = self.truth.effects.judge_skill
        scores = {}
        for model in self.space.models:
            chance = self.truth.questions.chance(model.model)
            hits = 0
            for key, q in self.ranking:
                draw = PairedDraws(self.seed, key)
                right = draw("alone", model.model) < chance[q]
                if self.judged:
                    right = draw("alone", model.model, "judge") < (skill if right else 1 - skill)
                hits += right
            scores[model.model] = 100.0 * hits / max(1, len(self.ranking))
        return scores

    def points(self, candidate: Candidate, questions: Sequence[tuple[str, int]]) -> list[float]:
        """Per question, 100 if the drawn run scores, else 0."""
        truth = self.truth
        return [
            100.0
            * draw_answer(
                self.space,
                truth.questions,
                candidate,
                q,
                self._draws.get(key) or PairedDraws(self.seed, key),
                judged=self.judged,
            )
            for key, q in questions
        ]

    async def evaluate(
        self, candidate: Candidate, n: int, *, stop_below: float | None
    ) -> Evaluation:
        return self.evaluate_now(candidate, n, stop_below=stop_below)

    def evaluate_now(self, candidate: Candidate, n: int, *, stop_below: float | None) -> Evaluation:
        """`evaluate` without an event loop (it never waits: the draws are computed)."""
        points = self.points(candidate, self.dev)
        stopped = False
        if self.early_fraction and stop_below is not None and len(self.dev) >= 10:
            cut = max(5, int(len(self.dev) * self.early_fraction))
            # Clearly weaker: even the top of its interval (z wide) is below the bar.
            if interval(points[:cut], z=self.early_z)[1] < stop_below:
                points, stopped = points[:cut], True
        return Evaluation.estimated(
            self.space,
            candidate,
            n,
            score=round(sum(points) / max(1, len(points)), 6),
            ci=interval(points),
            questions=len(points),
            cost_weight=self.cost_weight,
            mode=self.mode,
            stopped_early=stopped,
        )

    async def score_final(self, candidate: Candidate) -> dict[str, Any]:
        """The candidate's score on the final-ranking questions: ``{"score", "ci",
        "questions", "points"}`` (per question, as `EngineEvaluator.score_final`)."""
        points = self.points(candidate, self.final)
        return summary(points) | {"points": points}

    def selection_size(self, draws: int) -> int:
        """Selection positions (dev, then final-ranking questions) in ``draws`` passes:
        each pass draws every answer anew (see `archon_async.search._racing`)."""
        return (len(self.dev) + len(self.final)) * max(1, draws)

    async def score_positions(self, candidate: Candidate, start: int, stop: int) -> list[float]:
        """Per-question points on selection positions ``start`` to ``stop``: position
        ``i`` is question ``i % P`` of pass ``i // P``, whose draws are named apart (a new
        answer, as a run in its own cache namespace would give). Never a report question."""
        single = len(self.dev) + len(self.final)
        return await self.score_questions(candidate, position_pairs(start, stop, single))

    async def score_questions(
        self, candidate: Candidate, pairs: Sequence[tuple[int, int]]
    ) -> list[float]:
        """Per-question points on ``pairs`` (selection question index, pass), in their
        order, drawn as `score_positions` draws them."""
        pool = [*self.dev, *self.final]
        named = [
            (key if draw == 0 else f"{key}\x1fpass{draw}", q)
            for question, draw in pairs
            for key, q in (pool[question],)
        ]
        return self.points(candidate, named)

    async def score_report(self, candidate: Candidate) -> dict[str, Any]:
        """The candidate's score on the held-out questions (``report``), as `score_final`."""
        return self._score_on(candidate, self.report)

    def _score_on(self, candidate: Candidate, pairs: Sequence[tuple[str, int]]) -> dict[str, Any]:
        points = self.points(candidate, pairs)
        return summary(points)
