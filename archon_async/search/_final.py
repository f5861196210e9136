"""Archon's final ranking: which architectures are re-scored on the final-ranking questions,
and which of them the search returns.

The finalists are the ``number_of_archon_configs_for_final_ranking`` best by dev
objective. Each answers the same final-ranking questions (engine or sampled evaluator
alike), and its per-question scores are kept in the record (``final_ranking.json``), so
a resumed search chooses again from exactly what was measured. The search returns the
finalist with the best final-ranking score (objective). Beside it each finalist gets a
pooled estimate (`pooled_scores`: one Gaussian model of every dev and final-ranking score
of the search, the final ones compared pairwise), which passes over a lucky final score
where the model knows better, but chose no better than the raw score on 20 fresh seeds
(bench/RESULTS.md), so it informs and does not choose. Held-out questions
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
    "final-ranking score: the best measured score on the final-ranking questions (each "
    "finalist's pooled estimate is reported beside it; choosing by it was no better on "
    "fresh seeds, bench/RESULTS.md, issue 13)"
)


def choose(
    space: Space, evaluations: Sequence[Evaluation], ranking: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The finalists (``ranking``, with their per-question ``points``) with their pooled
    estimates and objectives (the final-ranking score), best objective first; the points
    are left out (they stay in the record).

    Each entry: ``key``, ``n``, ``dev_score``, ``final`` (``score``, ``ci``, ``questions``),
    ``score`` (the final-ranking score as measured), ``estimate`` (``score``: the pooled
    estimate, ``ci``: its 95% posterior interval, ``chance_best``: the posterior probability
    that it is the best finalist) and ``objective`` (the final-ranking score, less the
    evaluation's cost term when the objective weighs dollars).

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
        # The measured final-ranking score chooses: the pooled estimate chose no better on
        # fresh seeds (bench/RESULTS.md, issue 13), so it is reported, not used.
        objective = round(entry["score"] + cost_term, 6)
        chosen.append({**shown, "estimate": estimate, "objective": objective})
    return sorted(chosen, key=lambda e: (-e["objective"], e["n"]))
