"""Pooled estimates of the evaluated architectures' true scores (the final ranking reports
them beside the measured scores).

Each finalist's final-ranking score alone is a poor guide among leaders a few tenths of a
point apart: on 1,119 right-or-wrong questions near 84% its standard error is about 1.1
points, and the best of 20 such scores is mostly the luckiest (the winner's curse). But
the search has scored hundreds of architectures, and neighbouring ones score alike: one
Gaussian model of every score the search holds pools that information (empirical Bayes,
as in Efron and Morris's shrinkage [1]; the model is `slice_search`'s Bayesian linear
model of the space [2]):

* true score ``theta_j = x_j . w + u_j`` for each evaluated architecture ``j``, ``x_j``
  its features (`slice_search`'s: counts, their products, the categorical choices),
  ``w ~ N(0, I / alpha)``, ``u_j ~ N(0, tau2)`` what the features miss;
* dev score ``d_j = theta_j + e_j``, ``e_j ~ N(0, s2 / q_j)`` on its ``q_j`` questions,
  ``s2`` the variance of one question's score;
* final-ranking scores ``f = theta_F + c + eta``: every finalist answers the same
  questions, so ``eta``'s covariance is that of their per-question scores over the
  questions, divided by their number (paired: two architectures sharing stages share
  answers, and their difference is less noisy than either score); ``c`` (flat prior) is
  how much easier the final questions are than the dev ones as a whole.

``alpha`` and ``tau2`` are averaged out over a grid, each point weighted by the marginal
likelihood of all those scores (the evidence [2]; keeping only its maximum changed the
choice more from one grid to another). The posterior mean of a finalist's final-ranking score
(``theta + c``) is its estimate; under the model, the highest one is the choice that
minimises the expected regret (on 20 fresh seeds of bench/search_sampled.py it did not
beat the raw best final score: the model misses differences of a few tenths of a point,
bench/RESULTS.md). A Bayesian posterior is not biased by the finalists having been
chosen for their high dev scores (a selection on observed data is ignorable), which the
raw maximum is.

[1] B. Efron and C. Morris, "Stein's estimation rule and its competitors: an empirical
    Bayes approach", Journal of the American Statistical Association 68 (341), 117-130
    (1973).
[2] C. M. Bishop, Pattern Recognition and Machine Learning, Springer (2006), sections 3.3
    (Bayesian linear regression) and 3.5 (the evidence approximation).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

__all__ = ["Pooled", "pooled_scores"]

#: The grid of the weights' precision (on standardised scores) and the misfit's variance
#: (in units of the dev scores' variance) searched for the largest marginal likelihood.
_ALPHAS = 10.0 ** np.arange(-4.0, 4.01, 0.5)
_TAUS2 = 10.0 ** np.arange(-5.0, 1.01, 0.5)
#: Prior variance of the final questions' offset (standardised): flat in effect.
_OFFSET_VARIANCE = 100.0
#: Posterior draws for each finalist's chance of being the best.
_DRAWS = 4000


@dataclass(frozen=True)
class Pooled:
    """Pooled estimates, in points.

    Attributes:
        mean: per evaluated architecture (the order given), the posterior mean of its true
            score on the dev questions' scale.
        sd: its posterior standard deviation.
        final_mean: per finalist (the order given), the posterior mean of its score on the
            final-ranking questions with the noise of those questions removed (the
            estimate the final ranking chooses by); empty without finalists.
        final_sd: its posterior standard deviation.
        chance_best: per finalist, the posterior probability that it is the best of them.
        alpha, tau: the weight precision and the misfit's standard deviation (points) of
            the grid point with the largest marginal likelihood.
    """

    mean: np.ndarray
    sd: np.ndarray
    final_mean: np.ndarray
    final_sd: np.ndarray
    chance_best: np.ndarray
    alpha: float
    tau: float


def pooled_scores(
    features: np.ndarray,
    dev: Sequence[float],
    questions: Sequence[int],
    finalists: Sequence[int] = (),
    final_points: np.ndarray | None = None,
) -> Pooled:
    """The posterior of every evaluated architecture's true score (see the module docstring).

    Args:
        features: one row per evaluated architecture (`slice_search`'s features).
        dev: their dev scores, in points.
        questions: the dev questions each was scored on (early-stopped ones fewer).
        finalists: the rows that were re-scored on the final-ranking questions.
        final_points: their per-question scores there, one row per finalist, the same
            questions in the same order in every row (points, 0-100).

    Raises:
        ValueError: shapes that do not match, or a finalist row out of range.
    """
    x = np.asarray(features, dtype=float)
    d = np.asarray(dev, dtype=float)
    q = np.maximum(1.0, np.asarray(questions, dtype=float))
    rows = np.asarray(finalists, dtype=int)
    points = np.zeros((0, 0)) if final_points is None else np.asarray(final_points, dtype=float)
    if x.ndim != 2 or len(x) != len(d) or len(q) != len(d) or not len(d):
        raise ValueError("one feature row, dev score and question count per architecture")
    if len(rows) and (points.shape[0] != len(rows) or rows.min() < 0 or rows.max() >= len(d)):
        raise ValueError("one row of final-ranking points per finalist, finalists in range")
    # Small matrices: one BLAS thread is fastest, and OpenBLAS's spinning threads on a
    # loaded machine made the fit 150 times slower (bench/RESULTS.md, issue 13).
    with threadpool_limits(limits=1, user_api="blas"):
        data = _Data.build(x, d, q, rows, points)
        grid = [(alpha, tau2) for alpha in _ALPHAS for tau2 in _TAUS2]
        fits = [data.fit(*hyper) for hyper in grid]
        evidence = np.array([fit[0] for fit in fits])
        weights = np.exp(evidence - evidence.max())
        weights /= weights.sum()
        parts = []
        for weight, hyper, (_, precision, b) in zip(weights, grid, fits, strict=True):
            if weight >= 1e-3:
                covariance = np.linalg.inv(precision)
                parts.append((weight, data.pooled(covariance @ b, covariance, *hyper)))
        return _mixture(parts)


@dataclass
class _Data:
    """The scores, standardised by the dev scores' mean and spread."""

    x: np.ndarray
    dev: np.ndarray
    dev_noise: np.ndarray
    rows: np.ndarray
    final: np.ndarray
    final_precision: np.ndarray
    final_log_det: float
    centre: float
    scale: float

    @classmethod
    def build(
        cls, x: np.ndarray, d: np.ndarray, q: np.ndarray, rows: np.ndarray, points: np.ndarray
    ) -> _Data:
        centre, scale = float(d.mean()), max(1.0, float(d.std()))
        mean = float(d.mean())
        # One question's variance: measured on the finalists' final questions when there are
        # some, else the largest a 0..100 score with the dev scores' mean can have.
        if len(rows) and points.shape[1] > 1:
            s2 = float(np.mean(points.var(axis=1, ddof=1)))
        else:
            s2 = mean * (100.0 - mean)
        s2 = max(s2, 1.0)
        final = np.zeros(0)
        noise = np.zeros((0, 0))
        if len(rows):
            n = points.shape[1]
            final = (points.mean(axis=1) - centre) / scale
            noise = np.atleast_2d(np.cov(points)) / n if n > 1 else np.eye(len(rows)) * s2
            # Two finalists that answered alike everywhere leave it singular: a small ridge.
            noise = noise / scale**2 + np.eye(len(rows)) * 1e-3 * s2 / n / scale**2
        return cls(
            x=x,
            dev=(d - centre) / scale,
            dev_noise=s2 / q / scale**2,
            rows=rows,
            final=final,
            final_precision=np.linalg.inv(noise) if len(rows) else noise,
            final_log_det=float(np.linalg.slogdet(noise)[1]) if len(rows) else 0.0,
            centre=centre,
            scale=scale,
        )

    def fit(self, alpha: float, tau2: float) -> tuple[float, np.ndarray, np.ndarray]:
        """Log marginal likelihood, posterior precision ``P`` and ``b`` (the posterior mean
        is ``P^-1 b``) of the unknowns ``(w, u of each finalist, c)`` for these
        hyperparameters (linear-Gaussian algebra
        in the unknowns' space, so the cost grows with the evaluations only linearly)."""
        n, p = self.x.shape
        f = len(self.rows)
        design = np.zeros((n + f, p + f + 1))
        design[:n, :p] = self.x
        design[n:, :p] = self.x[self.rows]
        design[self.rows, p + np.arange(f)] = 1.0
        design[n + np.arange(f), p + np.arange(f)] = 1.0
        design[n:, -1] = 1.0
        dev_variance = self.dev_noise + tau2  # the misfit of non-finalists is noise to them
        dev_variance[self.rows] = self.dev_noise[self.rows]
        prior = np.concatenate([np.full(p, 1.0 / alpha), np.full(f, tau2), [_OFFSET_VARIANCE]])
        if not f:
            design, prior = design[:, :p], prior[:p]
        # The noise's precision is diagonal for the dev scores, a block for the final ones.
        ahead, behind = design[:n], design[n:]
        weighted = np.concatenate([ahead.T / dev_variance, behind.T @ self.final_precision], axis=1)
        y = np.concatenate([self.dev, self.final])
        inner = np.diag(1.0 / prior) + weighted @ design
        root = np.linalg.cholesky(inner)
        b = weighted @ y
        solved = np.linalg.solve(root, b)
        noise_quadratic = float(self.dev @ (self.dev / dev_variance))
        noise_quadratic += float(self.final @ self.final_precision @ self.final)
        quadratic = noise_quadratic - float(solved @ solved)
        log_det = float(np.log(dev_variance).sum()) + self.final_log_det
        log_det += 2.0 * float(np.log(np.diag(root)).sum()) + float(np.log(prior).sum())
        return -0.5 * (quadratic + log_det), inner, b

    def pooled(self, mean: np.ndarray, covariance: np.ndarray, alpha: float, tau2: float) -> Pooled:
        """The posterior in points: every architecture's true score, and the finalists'."""
        n, p = self.x.shape
        f = len(self.rows)
        theta = np.zeros((n, len(mean)))
        theta[:, :p] = self.x
        theta[self.rows, p + np.arange(f)] = 1.0
        theta_mean = theta @ mean
        theta_var = np.einsum("ij,jk,ik->i", theta, covariance, theta)
        # A non-finalist's own misfit u_j was folded into its dev score's noise: its
        # posterior given that score shrinks the residual by tau2 / (tau2 + noise).
        others = np.ones(n, dtype=bool)
        others[self.rows] = False
        keep = tau2 / (tau2 + self.dev_noise[others])
        theta_mean[others] += keep * (self.dev[others] - theta_mean[others])
        theta_var[others] = (1 - keep) ** 2 * theta_var[others] + keep * self.dev_noise[others]
        final_mean = np.zeros(0)
        final_sd = np.zeros(0)
        chance = np.zeros(0)
        if f:
            final = theta[self.rows].copy()
            final[:, -1] = 1.0
            final_mean = final @ mean
            final_cov = final @ covariance @ final.T
            final_sd = np.sqrt(np.clip(np.diag(final_cov), 0.0, None))
            chance = _chance_best(final_mean, final_cov)
            final_mean = self.centre + self.scale * final_mean
            final_sd = self.scale * final_sd
        return Pooled(
            mean=self.centre + self.scale * theta_mean,
            sd=self.scale * np.sqrt(np.clip(theta_var, 0.0, None)),
            final_mean=final_mean,
            final_sd=final_sd,
            chance_best=chance,
            alpha=float(alpha),
            tau=float(self.scale * np.sqrt(tau2)),
        )


def _mixture(parts: list[tuple[float, Pooled]]) -> Pooled:
    """The posterior averaged over the hyperparameters, each weighted by its marginal
    likelihood (the moments of the mixture; the chance of being best mixes exactly)."""
    total = sum(weight for weight, _ in parts)

    def moments(mean: str, sd: str) -> tuple[np.ndarray, np.ndarray]:
        first = sum(w * getattr(p, mean) for w, p in parts) / total
        second = sum(w * (getattr(p, sd) ** 2 + getattr(p, mean) ** 2) for w, p in parts) / total
        return first, np.sqrt(np.clip(second - first**2, 0.0, None))

    mean, sd = moments("mean", "sd")
    final_mean, final_sd = moments("final_mean", "final_sd")
    top = max(parts, key=lambda part: part[0])[1]
    return Pooled(
        mean=mean,
        sd=sd,
        final_mean=final_mean,
        final_sd=final_sd,
        chance_best=np.sum([w * p.chance_best for w, p in parts], axis=0) / total,
        alpha=top.alpha,
        tau=top.tau,
    )


def _chance_best(mean: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """Each one's share of posterior draws in which it is the best, the draws seeded by
    the posterior itself (the same record always gives the same shares)."""
    values, vectors = np.linalg.eigh((covariance + covariance.T) / 2)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    digest = hashlib.blake2b(np.round(mean, 9).tobytes(), digest_size=8).digest()
    draws = np.random.default_rng(int.from_bytes(digest, "big"))
    samples = mean + draws.standard_normal((_DRAWS, len(mean))) @ root.T
    wins = np.bincount(samples.argmax(axis=1), minlength=len(mean))
    share: np.ndarray = wins / _DRAWS
    return share
