"""Confidence intervals of a score in points (0 to 100), from its per-question scores.

Right-or-wrong scores (every question 0 or 100: the built-in scorers) get the Wilson score
interval [1]: it stays inside 0..100 and does not shrink to a point at 0 of n or n of n,
where the normal approximation (the mean plus or minus z standard errors) gave
``[90.13, 103.2]`` at 29 of 30 and ``[100, 100]`` at 30 of 30.

Scores in between (judge ratings, pairwise verdicts with ties) get a percentile bootstrap
of the mean [2], seeded by the values themselves so that the same scores always give the
same interval; it stays within the scores observed, so within 0..100. When every question
scored the same, resampling cannot show any spread: the Wilson interval of the mean read as
a share is used then, because no score confined to 0..100 with that mean varies more than
a right-or-wrong one does (so that interval is the conservative one).

[1] E. B. Wilson, "Probable inference, the law of succession, and statistical inference",
    Journal of the American Statistical Association 22 (158), 209-212 (1927); the formula
    as written in A. Agresti and B. A. Coull, "Approximate is better than 'exact' for
    interval estimation of binomial proportions", The American Statistician 52 (2),
    119-126 (1998).
[2] B. Efron and R. J. Tibshirani, An Introduction to the Bootstrap, Chapman & Hall (1993),
    chapter 13 (the percentile interval).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["interval", "summary", "wilson"]

#: Bootstrap resamples: enough that the 2.5% and 97.5% points move by well under a point.
_RESAMPLES = 2000


def wilson(share: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a share (0 to 1) observed on ``n`` trials, as shares.

    Raises:
        ValueError: ``n`` < 1 or ``share`` outside 0..1.
    """
    if n < 1 or not 0.0 <= share <= 1.0:
        raise ValueError(f"a share in 0..1 over at least one trial, not {share} over {n}")
    z2 = z * z
    center = (share + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n))
    return max(0.0, center - half), min(1.0, center + half)


def interval(points: Sequence[float], z: float = 1.96) -> tuple[float, float]:
    """A two-sided interval of the mean of per-question scores, in points (0 to 100);
    ``z`` sets the coverage as for a normal (1.96: 95%). See the module docstring for the
    method. No scores: ``(0.0, 0.0)``."""
    if not points:
        return (0.0, 0.0)
    n = len(points)
    mean = sum(points) / n
    if all(p in (0.0, 100.0) for p in points) or min(points) == max(points):
        low, high = wilson(min(1.0, max(0.0, mean / 100.0)), n, z)
        return (round(100.0 * low, 4), round(100.0 * high, 4))
    values = np.asarray(points, dtype=float)
    seed = int.from_bytes(hashlib.blake2b(values.tobytes(), digest_size=8).digest(), "big")
    draws = np.random.default_rng(seed).integers(0, n, size=(_RESAMPLES, n))
    means = values[draws].mean(axis=1)
    tail = 0.5 * math.erfc(z / math.sqrt(2))  # the normal's upper tail beyond z
    low, high = np.quantile(means, [tail, 1 - tail])
    return (round(float(low), 4), round(float(high), 4))


def summary(points: Sequence[float]) -> dict[str, Any]:
    """A score on some questions: ``{"score": mean points, "ci": [low, high], "questions"}``
    (the form of the final-ranking and held-out entries of report.json)."""
    return {
        "score": round(sum(points) / max(1, len(points)), 6),
        "ci": list(interval(points)),
        "questions": len(points),
    }
