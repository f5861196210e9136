"""What the neighbourhood says of an evaluated architecture: the racing's second look.

A dev score on 200 questions has about 2.5 points of noise, while the architectures near the
top of a space differ by tenths of a point: an architecture truly among the best can score
3 points low and rank 100th of 200 by its own dev score, below every leader, and is never
looked at again. Its neighbours (the same slice, one model or fuser more or less) score
about as it truly does, so a model of the score across the space, fitted on every
evaluation, predicts it near the top. `Outlook` fits such a model (``slice_search``'s:
Bayesian linear regression on its features, precisions by evidence maximisation) on the
evaluations' current scores and names the ones it predicts best; racing re-evaluates
those on more questions (a second look), and their raw scores then decide as for any other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from ._slice_search import _BayesianRidge, _features
from ._space import Candidate, Space

__all__ = ["FIT_MIN", "Outlook"]

#: Fewer evaluations than this give no prediction (the model has more features).
FIT_MIN = 12


class Outlook:
    """The model's predicted score of evaluated architectures of one space.

    Args:
        space: the space searched (its features are computed on first use, once).
    """

    def __init__(self, space: Space) -> None:
        self.space = space
        self._features: np.ndarray | None = None

    def best(
        self, candidates: Sequence[Candidate], scores: Sequence[float], count: int
    ) -> list[int]:
        """The positions (in ``candidates``) of the ``count`` with the best predicted score,
        best first, from a fit on all of them (``scores``: points, one each). Fewer than
        a dozen give no prediction (``[]``)."""
        if count <= 0 or len(candidates) < FIT_MIN:
            return []
        if self._features is None:
            self._features = _features(self.space)
        rows = self._features[[self.space.index(c) for c in candidates]]
        # Small matrices: BLAS threads cost more than they save (as in slice_search).
        with threadpool_limits(limits=1, user_api="blas"):
            model = _BayesianRidge(rows, np.asarray(scores, dtype=float))
        predicted = rows @ model.mean
        order = sorted(range(len(candidates)), key=lambda i: (-predicted[i], i))
        return order[:count]
