"""Archon's final ranking: which architectures are re-scored on the final-ranking questions,
and which of them the search returns.

The finalists are the ``number_of_archon_configs_for_final_ranking`` best by dev
objective. Each answers the same final-ranking questions (engine or sampled evaluator
alike), and its per-question scores are kept in the record (``final_ranking.json``), so
a resumed search chooses again from exactly what was measured. The choice is the finalist
with the highest pooled estimate (`pooled_scores`: one Gaussian model of every dev score
and every final-ranking score of the search, the final ones compared pairwise), not the
raw best final score: that one is mostly the luckiest of the finalists. Held-out questions
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
    "pooled estimate: the posterior mean of each finalist's final-ranking score under one "
    "model of all the search's dev and final-ranking scores (bench/RESULTS.md, issue 13)"
)


def choose(
    space: Space, evaluations: Sequence[Evaluation], ranking: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The finalists (``ranking``, with their per-question ``points``) with their pooled
    estimates and objectives, best objective first; the points are left out (they stay in
    the record).

    Raises:
        ValueError: the finalists' points are not on the same number of questions.
    """
    if not ranking:
        return []
    if len({len(entry["points"]) for entry in ranking}) > 1:
        raise ValueError("every finalist must be scored on the same final-ranking questions")
    rows = {e.key: i for i, e in enumerate(evaluations)}
    features = _features(space)[[space.index(Candidate.from_params(e.params)) for e in evaluations]]
    points = np.array([entry["points"] for entry in ranking], dtype=float)
    pooled = pooled_scores(
        features,
        [e.score for e in evaluations],
        [e.questions for e in evaluations],
        [rows[entry["key"]] for entry in ranking],
        points,
    )
    chosen = []
    for i, entry in enumerate(ranking):
        evaluation = evaluations[rows[entry["key"]]]
        mean, sd = float(pooled.final_mean[i]), float(pooled.final_sd[i])
        estimate = {
            "score": round(mean, 6),
            "ci": [round(mean - 1.96 * sd, 4), round(mean + 1.96 * sd, 4)],
            "chance_best": round(float(pooled.chance_best[i]), 4),
        }
        # The cost term of the objective stays what the evaluation found.
        cost_term = evaluation.objective - evaluation.score
        shown = {k: v for k, v in entry.items() if k != "points"}
        chosen.append({**shown, "estimate": estimate, "objective": round(mean + cost_term, 6)})
    return sorted(chosen, key=lambda e: (-e["objective"], e["n"]))
