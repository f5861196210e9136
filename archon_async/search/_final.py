"""Archon's final ranking: which architectures are re-scored, and which of them the search
returns.

The finalists are the ``number_of_archon_configs_for_final_ranking`` best by their racing
score (`archon_async.search._racing`: dev questions, plus the more questions the leaders
got during the search), raced by successive halving over the selection questions (dev,
final-ranking and, where the evaluator can draw anew, further passes); the best of the
last stage is returned. Beside each finalist its pooled estimate (`pooled_scores`: one
Gaussian model of every dev score and of the finalists' points on the final-ranking
questions' first pass) is reported: it chose no better than the measured score on 20
fresh seeds (bench/RESULTS.md), so it informs and does not choose. Held-out questions
(``report_questions``) are never read here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._pooled import pooled_scores
from ._record import Evaluation
from ._slice_search import _features
from ._space import Candidate, Space

__all__ = ["CHOSEN_BY", "choose"]

#: What chooses among the finalists (report.json's ``chosen_by``).
CHOSEN_BY = (
    "racing: the finalists raced by successive halving on the selection questions (dev, "
    "final-ranking, further draws), the best mean score of the last stage (each finalist's "
    "pooled estimate is reported beside it; it chose no better on fresh seeds, "
    "bench/RESULTS.md, issue 13)"
)


def choose(
    space: Space,
    evaluations: Sequence[Evaluation],
    ranking: list[dict[str, Any]],
    points: list[list[float]],
) -> list[dict[str, Any]]:
    """The finalists (``ranking``: `Race.final_stages`, best first) with their pooled
    estimates, in the same order. ``points``: each one's points on the final-ranking
    questions' first pass (the same questions for all; none when there are no
    final-ranking questions, and then no estimate).

    Each entry gains ``estimate`` (``score``: the pooled estimate, ``ci``: its 95%
    posterior interval, both within a score's 0 to 100, ``chance_best``: the posterior
    probability that it is the best finalist).

    Raises:
        ValueError: the finalists' points are not on the same number of questions.
    """
    if not ranking or not points or not points[0]:
        return ranking
    if len({len(p) for p in points}) > 1:
        raise ValueError("every finalist must be scored on the same final-ranking questions")
    rows = {e.key: i for i, e in enumerate(evaluations)}
    features = _features(space)[[space.index(Candidate.from_params(e.params)) for e in evaluations]]
    pooled = pooled_scores(
        features,
        [e.score for e in evaluations],
        [e.questions for e in evaluations],
        [rows[entry["key"]] for entry in ranking],
        np.array(points, dtype=float),
    )
    chosen = []
    for i, entry in enumerate(ranking):
        mean, sd = float(pooled.final_mean[i]), float(pooled.final_sd[i])
        estimate = {
            "score": round(_clip(mean), 6),
            "ci": [round(_clip(mean - 1.96 * sd), 4), round(_clip(mean + 1.96 * sd), 4)],
            "chance_best": round(float(pooled.chance_best[i]), 4),
        }
        chosen.append({**entry, "estimate": estimate})
    return chosen


def _clip(points: float) -> float:
    """``points`` within a score's range, 0 to 100: the pooled model is Gaussian, and
    near the ends its interval ran past them (96.76 [86.87, 106.65] on a real search's
    finalists), which no score can reach."""
    return min(100.0, max(0.0, points))
