"""What a search will propose, and how far each evaluation goes, walked without a call.

The estimate (`_estimate`) needs the architectures a search evaluates and, for each, the
chance that it runs past the early-stopping cut:

* Random and grid search propose the same architectures whatever the scores: those
  exactly, each going on with its binomial chance against the best expected score before
  it (`goes_on`).
* A model-based algorithm follows the scores it sees, and a run's scores are noisy and
  *paired*: architectures that share stages share their answers (through the response
  cache on a real run), so they are right or wrong together on a question. Fed exact
  scores, such an algorithm spreads over more slices than a real run does, which shares
  more calls; fed independently noisy scores, it spreads further still. The walk feeds it
  the scores a simulated run would see, drawn question by question from the ground truth
  with paired draws (`SampledEvaluator`, as ``Search(simulate=True, oracle=True,
  sampled=True)`` runs), early stopping included. ``draws=k`` walks the path of that
  sampled search with the seed ``seed + k`` for its draws (the algorithm keeps the
  search's seed): one path is one plausible run, and the estimate averages several.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._algorithms import make_algorithm
from ._evaluators import cost_weight
from ._sampled import SampledEvaluator
from ._space import Candidate, Space
from ._truth import Truth

if TYPE_CHECKING:
    from ._run import Search

__all__ = ["SCORE_FREE", "Step", "goes_on", "walk"]

#: Algorithms whose proposals do not depend on the scores.
SCORE_FREE = frozenset({"random_search", "grid_search"})


@dataclass(frozen=True, slots=True)
class Step:
    """One evaluation of the walk.

    Attributes:
        candidate: the architecture.
        score: its dev score as the walk saw it (points).
        on: the chance it runs past the early-stopping cut (0 or 1 on a drawn path).
    """

    candidate: Candidate
    score: float
    on: float


def walk(
    search: Search, space: Space, truth: Truth, dev: int, evaluations: int, *, draws: int = 0
) -> list[list[Step]]:
    """The batches ``search`` evaluates (at most ``evaluations`` architectures) on ``dev``
    dev questions, and how far each goes; ``draws`` names the scores drawn for a
    model-based algorithm (0: the search's seed)."""
    if search.algorithm in SCORE_FREE:
        return _expected(search, space, truth, dev, evaluations)
    return _sampled(search, space, truth, evaluations, draws)


def _expected(
    search: Search, space: Space, truth: Truth, dev: int, evaluations: int
) -> list[list[Step]]:
    """Score-free proposals; early stopping by its binomial chance against the best
    expected full score before each batch (the lower end of its interval, as the
    evaluator's rule)."""
    ext = search.settings.archon_async
    stopping = ext.early_stopping
    cut = max(5, int(dev * stopping.first_fraction)) if stopping.enabled and dev >= 10 else dev
    algorithm = make_algorithm(search.algorithm, space, {}, seed=search.seed, batch=search.parallel)
    batches: list[list[Step]] = []
    count = 0
    best: float | None = None
    for batch in algorithm:
        batch = batch[: evaluations - count]
        bar = None if best is None else _lower_end(best, dev)
        steps = []
        for candidate in batch:
            score = truth.score(candidate)
            on = 1.0 if bar is None or cut >= dev else goes_on(score, bar, cut, stopping.z)
            steps.append(Step(candidate, score, on))
        batches.append(steps)
        best = max([best or -math.inf, *(s.score for s in steps)])
        count += len(batch)
        if count >= evaluations:
            break
    return batches


def _sampled(
    search: Search, space: Space, truth: Truth, evaluations: int, draws: int
) -> list[list[Step]]:
    """The path of the search on scores drawn with paired draws, as the search runs it
    (batches told in proposal order, early stopping against the best full score's lower
    interval end before the batch)."""
    evaluator = sampled_evaluator(search, space, truth, search.seed + draws)
    scores: dict[Candidate, float] = {}
    algorithm = make_algorithm(
        search.algorithm, space, scores, seed=search.seed, batch=search.parallel
    )
    batches: list[list[Step]] = []
    lows: list[float] = []
    count = 0
    for batch in algorithm:
        batch = batch[: evaluations - count]
        bar = max(lows) if lows else None
        steps = []
        for offset, candidate in enumerate(batch):
            done = evaluator.evaluate_now(candidate, count + offset + 1, stop_below=bar)
            scores[candidate] = done.objective
            if not done.stopped_early:
                lows.append(done.ci[0])
            steps.append(Step(candidate, done.objective, 0.0 if done.stopped_early else 1.0))
        batches.append(steps)
        count += len(batch)
        if count >= evaluations:
            break
    return batches


def sampled_evaluator(search: Search, space: Space, truth: Truth, seed: int) -> SampledEvaluator:
    """The evaluator of ``Search(simulate=True, oracle=True, sampled=True, seed=seed)`` for
    ``search``'s dev questions (final ranking and held-out questions are not walked)."""
    dev, _ = search.questions()
    numbers = search.question_numbers(dev)
    stopping = search.settings.archon_async.early_stopping
    return SampledEvaluator(
        space,
        truth,
        [(item.id, numbers[item.messages[-1]["content"]]) for item in dev if item.messages],
        seed=seed,
        judged=truth.judged,
        early_fraction=stopping.first_fraction if stopping.enabled else None,
        early_z=stopping.z,
        cost_weight=cost_weight(search.settings),
    )


def _lower_end(best: float, dev: int) -> float:
    """The lower end of the 95% interval of a score ``best`` on ``dev`` questions."""
    p = min(1.0, max(0.0, best / 100.0))
    return best - 1.96 * 100.0 * math.sqrt(p * (1 - p) / max(1, dev))


def goes_on(score: float, best: float, cut: int, z: float) -> float:
    """The chance that an architecture of expected ``score`` (points) is not stopped after
    ``cut`` questions when early stopping compares with ``best`` (the evaluator's rule:
    stopped when its mean plus ``z`` standard errors is below it)."""
    p = min(1.0, max(0.0, score / 100.0))
    stop = 0.0
    for k in range(cut + 1):
        mean = 100.0 * k / cut
        variance = 100.0**2 * k * (cut - k) / (cut * (cut - 1)) if cut > 1 else 0.0
        if mean + z * math.sqrt(variance / cut) < best:
            stop += math.comb(cut, k) * p**k * (1 - p) ** (cut - k)
    return 1.0 - stop
