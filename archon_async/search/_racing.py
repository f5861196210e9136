"""Racing: the architectures that could be the best get more questions (issue 13).

A dev score on a few hundred questions has a few points of noise, while the architectures
near the top of a space differ by tenths of a point: the best of many dev scores is
mostly a lucky one. So the search re-evaluates, on more questions, what could be the best,
and only that:

* **During the search**, after each batch, the ``leaders`` best architectures by their
  current score are topped up to ``leader_questions``; a lucky one falls back as its
  score regresses and the next one is topped up in turn, until the leaders all rest on
  that many questions. The algorithm is told the new scores (``slice_search`` refits its
  model and refines around the leaders it now sees), so it searches around the truly
  good architectures, not the lucky ones.
* **The final ranking** takes the ``number_of_archon_configs_for_final_ranking`` best by
  that score and races them by successive halving: each stage tops every survivor up to
  the same number of questions (one pass over the selection questions, then twice as
  many each stage, up to ``draws`` passes), then keeps the better half (two race on to
  the end); the best of the last stage is returned. The first stage reaches at least
  ``first_passes`` passes (4 by default): ten finalists a few tenths apart, halved on one
  fresh pass each (about a point of noise each), lost the best of them on 4 of 20 seeded
  noisy searches that 4 passes kept (bench/RESULTS.md, "first stage on 4 passes"). They
  are compared only on the questions none of them had answered when they became
  finalists: the points that made them finalists carry the luck that chose them (the
  best of some 70 leaders' scores on 1,319 questions each was 2.3 points above its exact
  score in a trial search, seed 0), fresh ones do not.

**Predicted finalists** (``predicted_finalists``, 8 by default) race beside the best by
score: the evaluations a model of the score across the space (`archon_async.search.
_outlook`, fitted on every evaluation's current score) predicts best, whatever their own
score. The best architecture a noisy search evaluated was no finalist on about half of
seeded searches, mostly one whose dev score (200 questions, about 2.5 points of noise)
had ranked it 50th to 130th and which no leader's top-up ever reached; its neighbours in
the space say it is good (bench/RESULTS.md, "predicted finalists by default").

An option, off by default (bench/RESULTS.md, "second look": it lowered the floor of a
perfect choice among the finalists, not the regret of what the search returns): a
**second look** (``second_looks``) also tops up the architectures the model predicts best
during the search, whatever their own score. `--estimate` does not count it.

The questions are the *selection questions*: the dev questions, then the final-ranking
ones, then again with independent draws (a second answer to the same question): the
`SampledEvaluator` names the draws of another pass apart, the `EngineEvaluator` runs pass
``p`` as `Engine.generate`'s draw ``p``, whose samples are entries of their own in the
response cache (independent answers where the models sample: not from a real model at
temperature 0). Position ``i`` of that sequence is question ``i % P`` of draw ``i // P``
(``P`` selection questions). Every architecture answers the
same positions in the same order, so two of them are compared on the same questions, and
those that share stages share answers (the comparison is paired). The held-out report
questions are never among them.

A re-evaluation is not an evaluation: the search still evaluates (proposes and scores) at
most its planned number of architectures; the questions a re-evaluation answers are counted
apart (``racing`` in report.json) beside those of the evaluations, and its calls are in the
search's spend like the final ranking's; where the evaluations send calls, what
re-evaluations send is bounded by ``racing.max_share`` (`archon_async.search._race_share`:
a leader is topped up only as far as the share allows; the final ranking's stages are then
chosen pass by pass, `archon_async.search._race_bounded`: the first always reaches one pass
beyond what the finalists had, every finalist on to ``first_passes`` as the share allows,
one clearly behind leaving at once, and past that the worse half leave rather than a pass
be cut for all; each pass after the first stage asks only the questions that separate the
finalists still racing, `archon_async.search._race_questions`).
The points answered beyond the dev questions are
kept per architecture in ``racing.json``, so a resumed search reads them back and makes the
same decisions.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping, Sequence
from typing import Any, Protocol

from ._interval import summary
from ._outlook import Outlook
from ._race_bounded import bounded_steps
from ._race_questions import Schedule
from ._race_share import RaceShare
from ._record import Evaluation, RunRecord
from ._space import Candidate

__all__ = ["Race", "RaceEvaluator", "stage_plan"]

#: How finalists rank at a stage (`Race._final_order`): a sort key, best first.
Order = Callable[[Evaluation], tuple[float, float, float, str]]


class RaceEvaluator(Protocol):
    """What racing needs of an evaluator (`SampledEvaluator`, `EngineEvaluator`)."""

    @property
    def dev(self) -> Sequence[Any]:
        """The dev questions (the first selection positions)."""
        ...

    def selection_size(self, draws: int) -> int:
        """How many selection positions it can answer with at most ``draws`` passes."""
        ...

    async def score_positions(self, candidate: Candidate, start: int, stop: int) -> list[float]:
        """Per-question points (0-100) of ``candidate`` on positions ``start`` to ``stop``."""
        ...

    async def score_questions(
        self, candidate: Candidate, pairs: Sequence[tuple[int, int]]
    ) -> list[float]:
        """Per-question points of ``candidate`` on ``pairs`` (selection question index,
        draw), in their order (a bounded race's scheduled positions)."""
        ...


class Race:
    """The racing state of one search: every architecture's points beyond the dev questions.

    Args:
        evaluator: answers selection positions.
        record: the run's record (``racing.json`` is read back and kept up to date).
        leaders: architectures kept on ``leader_questions`` during the search (0: none).
        leader_questions: questions each leader rests on (capped at, and by default, one
            pass over the selection questions).
        draws: passes over the selection questions the last stage of the final ranking
            reaches (capped at what the evaluator can draw).
        check: called before each re-evaluation of the final ranking that answers
            questions (it may raise to stop: the search's wall-time budget).
        outlook: with ``second_looks``, the ``second_looks`` evaluations a model of the
            score across the space predicts best also rest on ``leader_questions``
            (`archon_async.search._outlook`), whatever their own score; with
            ``predicted_finalists``, that many it predicts best race in the final ranking
            beside the ``number_of_archon_configs_for_final_ranking`` best by score.
        first_passes: passes over the selection questions the final ranking's first
            stage reaches at least.
        share: what bounds racing's calls (`archon_async.search._race_share`; None: no
            bound), with ``finalists`` (the final ranking's size) for the reserve of its
            first stage.
    """

    def __init__(
        self,
        evaluator: RaceEvaluator,
        record: RunRecord,
        *,
        leaders: int,
        leader_questions: int | None,
        draws: int,
        check: Callable[[], None] | None = None,
        outlook: Outlook | None = None,
        second_looks: int = 0,
        predicted_finalists: int = 0,
        first_passes: int = 1,
        share: RaceShare | None = None,
        finalists: int = 0,
    ) -> None:
        self.share = share
        self.finalists = finalists
        self.first_passes = first_passes
        self.outlook = outlook
        self.second_looks = second_looks if outlook is not None else 0
        self.predicted_finalists = predicted_finalists if outlook is not None else 0
        self.evaluator = evaluator
        self.check = check
        self.record = record
        self.leaders = leaders
        self.dev = len(evaluator.dev)
        self.single = evaluator.selection_size(1)
        self.size = evaluator.selection_size(draws)
        self.leader_questions = min(leader_questions or self.single, self.single)
        stored = record.load_json("racing.json") or {}
        #: key -> points on positions ``dev`` onwards, as answered (kept in the record).
        self.stored: dict[str, list[float]] = {k: list(v) for k, v in stored.items()}
        # key -> how many of them count so far: a resumed search reads back points a later
        # stage answered, and must not count them before that stage, to decide the same.
        self.counted: dict[str, int] = {}
        #: questions answered by re-evaluations in this run (read-back ones excluded).
        self.answered = 0
        #: the final ranking once `final_stages` has run: entries best first (the last
        #: stage's best leads).
        self.final_ranking: list[dict[str, Any]] = []
        #: where the final ranking's window starts (0: every point counts).
        self.base = 0
        #: key -> its `final_objective` at the end of each stage it reached.
        self.stage_objectives: dict[str, list[float]] = {}
        #: which question of which pass each position past the first stage asks, in a
        #: race under a share (`archon_async.search._race_questions`; None: every
        #: position is question ``i % P`` of pass ``i // P``).
        self.schedule: Schedule | None = None

    def extra(self, key: str) -> list[float]:
        """``key``'s points counted so far beyond the dev questions."""
        return self.stored.get(key, [])[: self.counted.get(key, 0)]

    def questions(self, evaluation: Evaluation) -> int:
        """How many selection positions ``evaluation``'s score rests on."""
        return evaluation.questions + self.counted.get(evaluation.key, 0)

    def score(self, evaluation: Evaluation) -> float:
        """Its mean points over every position it answered (dev and beyond)."""
        extra = self.extra(evaluation.key)
        total = evaluation.score * evaluation.questions + sum(extra)
        return total / max(1, evaluation.questions + len(extra))

    def objective(self, evaluation: Evaluation) -> float:
        """`score` less the evaluation's cost term (when the objective weighs dollars)."""
        return round(self.score(evaluation) + evaluation.objective - evaluation.score, 6)

    def ranked(self, evaluations: Sequence[Evaluation]) -> list[Evaluation]:
        """Evaluations on every dev question (those stopped early only once a second look
        re-evaluated them), best `objective` first."""
        full = [e for e in evaluations if self.questions(e) >= self.dev]
        return sorted(full, key=lambda e: (-self.objective(e), e.n))

    async def top_up(self, evaluation: Evaluation, questions: int, *, final: bool = False) -> None:
        """Answer positions up to ``questions`` (kept in ``racing.json`` at once); in the
        final ranking (``final``) ``check`` comes first."""
        if questions <= self.questions(evaluation):
            return
        stored = self.stored.setdefault(evaluation.key, [])
        have = evaluation.questions + len(stored)
        if questions > have:
            if final and self.check is not None:
                self.check()
            candidate = Candidate.from_params(evaluation.params)
            points = await self._answer(candidate, have, questions)
            stored.extend(points)
            self.answered += len(points)
            self.record.save_json("racing.json", self.stored)
        self.counted[evaluation.key] = questions - evaluation.questions

    async def _answer(self, candidate: Candidate, start: int, stop: int) -> list[float]:
        """Points on positions ``start`` to ``stop``, the scheduled ones as scheduled."""
        schedule = self.schedule
        if schedule is None or stop <= schedule.start:
            return await self.evaluator.score_positions(candidate, start, stop)
        points: list[float] = []
        if start < schedule.start:
            points = await self.evaluator.score_positions(candidate, start, schedule.start)
            start = schedule.start
        pairs = schedule.pairs[start - schedule.start : stop - schedule.start]
        return points + await self.evaluator.score_questions(candidate, pairs)

    async def follow_leaders(self, scores: MutableMapping[Candidate, float], upto: int) -> int:
        """Top the leaders among the first ``upto`` evaluations up until the ``leaders``
        best, and the ``second_looks`` predicted best, all rest on ``leader_questions``; the
        algorithm's ``scores`` get every changed score. Returns the top-ups made."""
        if not self.leaders or self.leader_questions <= self.dev:
            return 0
        made = 0
        known = [e for e in self.record.evaluations.values() if e.n <= upto]
        while True:
            top = self.ranked(known)[: self.leaders] + self.predicted(known, self.second_looks)
            short = [e for e in top if self.questions(e) < self.leader_questions]
            short = list({e.key: e for e in short}.values())
            if not short:
                return made
            for evaluation in short:
                if not self._leader_fits(known, evaluation):
                    return made  # the share allows no more now: maybe after more evaluations
                await self.top_up(evaluation, self.leader_questions)
                scores[Candidate.from_params(evaluation.params)] = self.objective(evaluation)
                made += 1

    def predicted(self, evaluations: Sequence[Evaluation], count: int) -> list[Evaluation]:
        """The ``count`` evaluations the outlook's model, fitted on all of them at their
        current `objective`, predicts best."""
        if not count or self.outlook is None:
            return []
        candidates = [Candidate.from_params(e.params) for e in evaluations]
        scores = [self.objective(e) for e in evaluations]
        return [evaluations[i] for i in self.outlook.best(candidates, scores, count)]

    def spend(self) -> dict[str, int]:
        """What re-evaluations answered: ``architectures`` re-evaluated, ``questions``
        answered beyond their evaluations (every run of the search, resumed ones included),
        ``questions_this_run``."""
        spend = {
            "architectures": sum(1 for points in self.stored.values() if points),
            "questions": sum(len(points) for points in self.stored.values()),
            "questions_this_run": self.answered,
        }
        if self.share is not None:
            every = list(self.record.evaluations.values())
            spend |= self.share.summary(every, self._reach(every))
        return spend

    def _reach(self, evaluations: Sequence[Evaluation]) -> dict[str, int]:
        """Selection positions each of ``evaluations`` racing took further than its
        evaluation (as counted so far)."""
        return {e.key: self.questions(e) for e in evaluations if self.counted.get(e.key)}

    def _leader_fits(self, known: Sequence[Evaluation], leader: Evaluation) -> bool:
        """Whether the share allows topping ``leader`` up, with the final ranking's first
        stage as it would start now reserved (always true with no share)."""
        if self.share is None:
            return True
        reach = self._reach(known)
        reach[leader.key] = max(self.questions(leader), self.leader_questions)
        top = self.ranked(known)[: self.finalists]
        if top:
            base = max(reach.get(e.key, e.questions) for e in top)
            first = self.least_first(len(top), base if base < self.size else self.dev)
            for e in top:
                reach[e.key] = max(reach.get(e.key, e.questions), first)
        if self.share.fits(known, reach):
            return True
        self.share.limited = True
        return False

    def _afforded(
        self, every: Sequence[Evaluation], survivors: Sequence[Evaluation], planned: int
    ) -> int:
        """The positions a final-ranking stage may take ``survivors`` to: ``planned``, or
        as far as the share allows (0: no further than they are)."""
        if self.share is None:
            return planned
        current = max(self.questions(e) for e in survivors)

        def reach(level: int) -> dict[str, int]:
            taken = self._reach(every)
            for e in survivors:
                taken[e.key] = max(self.questions(e), level)
            return taken

        if self.share.fits(every, reach(planned)):
            return planned
        self.share.limited = True
        level = self.share.furthest(every, reach, current, planned)
        return level if level > current else 0

    def stages(self, count: int, base: int) -> list[tuple[int, int]]:
        """The final ranking's plan for ``count`` finalists, some of which already answered
        ``base`` positions: (survivors, positions each) per stage (see `stage_plan`)."""
        return stage_plan(count, base, self.single, self.size, first_passes=self.first_passes)

    def least_first(self, count: int, base: int) -> int:
        """The positions the final ranking's first stage reaches whatever the share: one
        pass beyond ``base`` (`first_passes` only as the share allows)."""
        return stage_plan(count, base, self.single, self.size)[0][1]

    def fresh(self, evaluation: Evaluation) -> list[float]:
        """Its points on the positions of the final ranking's window (`final_stages`)."""
        start = max(0, self.base - evaluation.questions)
        return self.extra(evaluation.key)[start:] if self.base else self.all_points(evaluation)

    def all_points(self, evaluation: Evaluation) -> list[float]:
        """Its dev score (as one mean) weighted by its questions, and its extra points."""
        extra = self.extra(evaluation.key)
        return [evaluation.score] * evaluation.questions + extra

    def window(self, evaluation: Evaluation) -> list[float]:
        """`fresh`, and for each question a scheduled pass it finished skipped, the
        points every finalist gave it before (the same for all: a score over every
        question, `archon_async.search._race_questions`)."""
        points = self.fresh(evaluation)
        if self.schedule is None:
            return points
        return points + self.schedule.skipped(self.questions(evaluation))

    def final_objective(self, evaluation: Evaluation) -> float:
        """Its mean on the `window`, less the evaluation's cost term."""
        return round(mean(self.window(evaluation)) + evaluation.objective - evaluation.score, 6)

    async def final_stages(self, count: int) -> AsyncIterator[dict[str, Any]]:
        """The final ranking: the ``count`` best raced by successive halving (see the module
        docstring), compared on the positions none of them had answered when they were
        chosen (the window from ``base``, the most any of them had then): the points that
        made them finalists carry the luck that chose them. Where there are no such
        positions (finalists that all answered every selection position), on every
        position after the dev questions. Yields,
        as each finalist is scored at a stage, ``key``, ``stage``,
        ``score`` (on the window), ``questions`` (positions answered), ``dev_score``,
        ``done`` and ``of`` (scorings planned, over every stage), ``place`` and ``racing``
        (it is the ``place``-th of the ``racing`` finalists of its stage); then
        `final_ranking` holds the result."""
        every = list(self.record.evaluations.values())
        survivors = self.choose_finalists(count)
        order = self._final_order(survivors)
        of, done = sum(n for n, _ in self.stages(len(survivors), self.base)), 0
        reached: dict[str, int] = {}
        steps = self._steps(every, survivors, order)
        for stage, (survivors, level) in enumerate(steps, 1):
            for place, evaluation in enumerate(survivors, 1):
                await self.top_up(evaluation, level, final=True)
                reached[evaluation.key] = stage
                done += 1
                yield {
                    "key": evaluation.key,
                    "dev_score": evaluation.score,
                    "score": round(mean(self.window(evaluation)), 6),
                    "fresh_questions": len(self.fresh(evaluation)),  # what the score is on
                    "questions": self.questions(evaluation),
                    "stage": stage,
                    "done": done,
                    "of": max(of, done),
                    "place": place,
                    "racing": len(survivors),
                }
            for evaluation in survivors:
                self.stage_objectives.setdefault(evaluation.key, []).append(
                    self.final_objective(evaluation)
                )
        self.final_ranking = sorted(
            (self._entry(key, stage) for key, stage in reached.items()),
            key=lambda e: (-e["stage"], *order(self.record.evaluations[e["key"]])),
        )

    def _steps(
        self, every: list[Evaluation], finalists: list[Evaluation], order: Order
    ) -> Iterator[tuple[list[Evaluation], int]]:
        """The final ranking's stages, one at a time (survivors, positions each), each
        chosen once the stage before it was answered: successive halving (`stage_plan`),
        or with a share, the race that spends it (`archon_async.search._race_bounded`)."""
        if self.share is not None:
            return bounded_steps(self, every, finalists, order)
        return self._halving(every, finalists, order)

    def _halving(
        self, every: list[Evaluation], finalists: list[Evaluation], order: Order
    ) -> Iterator[tuple[list[Evaluation], int]]:
        """`stage_plan`'s stages: each keeps the better half of the one before."""
        survivors = finalists
        for stage, (number, planned) in enumerate(self.stages(len(survivors), self.base), 1):
            survivors = survivors[:number]
            level = self._afforded(every, survivors, planned)
            if stage == 1:  # the first stage always runs, one pass beyond what they had
                level = max(level, self.least_first(number, self.base))
            if not level:
                return
            yield survivors, level
            survivors = sorted(survivors, key=order)
            if level < planned:
                return  # cut short by the share: racing has spent what it may

    def choose_finalists(self, count: int) -> list[Evaluation]:
        """The ``count`` best by `ranked`, then the model's ``predicted_finalists`` not among
        them; sets ``base``, the most positions any of them had answered (where that is
        every selection position, the dev questions: the window is then the final-ranking
        questions, as in Archon)."""
        every = list(self.record.evaluations.values())
        survivors = self.ranked(every)[:count]
        chosen = {e.key for e in survivors}
        survivors += [
            e for e in self.predicted(every, self.predicted_finalists) if e.key not in chosen
        ]
        self.base = max((self.questions(e) for e in survivors), default=0)
        if self.base >= self.size:
            self.base = self.dev
        return survivors

    def _final_order(self, finalists: Sequence[Evaluation]) -> Order:
        """How ``finalists`` rank at a stage: by their objective on the window; tied there
        (a 0/1 scorer on a small final-ranking set: all at 100), by the evidence, not by
        which was proposed first: their objective over every position each answered, then
        the cheaper per query (dollars where every finalist is priced, else calls), then
        the key (deterministic, and the same on a resume)."""
        priced = not any(e.unpriced_models for e in finalists)

        def order(e: Evaluation) -> tuple[float, float, float, str]:
            cost = e.dollars_per_query if priced else e.calls_per_query
            return (-self.final_objective(e), -self.objective(e), cost, e.key)

        return order

    def _entry(self, key: str, stage: int) -> dict[str, Any]:
        """A finalist's entry of the final ranking: ``key``, ``n``, ``dev_score``,
        ``questions`` (positions it answered), ``final`` (its score on the window:
        ``score``, ``ci``, ``questions``), ``score`` (the same), ``all_score`` (over every
        position it answered, dev included), ``stage`` (the last it reached),
        ``objective``, ``stage_objectives`` (its objective at the end of each stage it
        reached: what each stage ranked it by)."""
        evaluation = self.record.evaluations[key]
        final = summary(self.window(evaluation))
        return {
            "key": key,
            "n": evaluation.n,
            "dev_score": evaluation.score,
            "questions": self.questions(evaluation),
            "final": final,
            "score": final["score"],
            "all_score": round(self.score(evaluation), 6),
            "stage": stage,
            "objective": self.final_objective(evaluation),
            "stage_objectives": self.stage_objectives.get(key, []),
        }

    def final_points(self, key: str) -> list[float]:
        """``key``'s points on the final-ranking questions' first pass (paired across
        finalists: every finalist answered them)."""
        return self.extra(key)[: self.single - self.dev]


def stage_plan(
    count: int, base: int, single: int, size: int, *, first_passes: int = 1
) -> list[tuple[int, int]]:
    """The final ranking's successive halving for ``count`` finalists, some of which
    already answered ``base`` positions, with ``single`` positions a pass and ``size`` in
    all: (survivors, positions each) per stage; the first stage ends at the first of one
    pass, two, four... beyond ``base``, and at ``first_passes`` passes at least
    (``--estimate`` plans the race with it too)."""
    plan = []
    level = single
    while level <= base and level < size:
        level = min(size, level * 2)
    level = max(level, min(size, single * first_passes))
    while count:
        plan.append((count, level))
        if count <= 1 or level >= size:
            break
        # Halved, but two race on to the last stage: one alone learns nothing more.
        count, level = max(2, math.ceil(count / 2)), min(size, level * 2)
    return plan


def mean(points: Sequence[float]) -> float:
    """The mean of per-question points (0 when there are none)."""
    return sum(points) / max(1, len(points))
