"""``slice_search``: our model-based search over the slices of the categorical choices.

The space splits into slices by its categorical choices (critic, ranker and its top_k,
final stage); within a slice the score is a smooth function of the counts (models,
samples, fusers per layer) and of the calls they cost. The search keeps one Bayesian
linear model of the whole space over features of the architecture (counts, generations,
calls per query and their squares and products, depth, the categorical choices and their
products with the counts), its prior and noise precisions set by evidence maximisation
(MacKay's updates), and proposes, batch by batch:

1. a few random points (the model's first data: the slice probes after them are draws
   from the model, and inform it as much);
2. one point in every slice, the best of that slice under a draw from the posterior
   (Thompson sampling), so that every categorical choice is seen near its own best
   rather than judged by its random points;
3. then, in each batch, one point of the leading slice at a depth (number of fusion
   layers) it has not been probed at, while there is one, again by Thompson sampling
   (in large slices, on the call limit when the slice's best is on it);
   the best predicted new neighbour of the best point of each of the two leading slices
   (a neighbour is one or two moves away: a move changes one axis, or the models and
   samples of the generation layer together), which refines the leaders exactly, plus
   Thompson draws over the whole space for the other slots, which keeps looking
   elsewhere. A slice whose best has not improved after `PATIENCE` of its
   neighbours is left (the slice of the best point so far after `LEAD_PATIENCE`), so
   the local slot passes to the next slice. A best point on the call limit tries its
   neighbours on the limit first (trades: one axis up, another down, the same calls),
   where its near-ties are. While a slice other than the leading one has had only its
   first probe, one slot of every other batch gives one such slice a second probe, at
   the point of highest upper bound under the model (mean plus `KAPPA` standard
   deviations): a slice judged by a poor first probe is not left aside. A large slice
   (`LARGE` points or more) whose best is `CLEAR_LEAD` points above every other slice's
   also gets `EXPLOIT` points a batch of the model's best guesses over the whole slice
   (on the call limit when its best is), in the slots the draws had: the walk from
   neighbour to neighbour takes one step a batch, and the slice's best is often not a
   neighbour of its first good points.

It sees only the candidates and their scores (never how a score was made), and works the
same on noisy scores: the model is a regression, not an interpolation.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Generator, Mapping

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from ._space import Candidate, Space

__all__ = ["slice_search"]

#: Random points before the model is fitted: `START`, or `START_LARGE` where the slices
#: hold `LARGE` points or more on average. The slice probes that follow are draws from
#: the model and inform it as much; in large slices random points seldom fall near the
#: best (20 calls, with the depth probes on the call limit: the median 61 -> 53), while
#: at 10 calls (slices of 72 points) 4 lost 3 of 100 seeds (bench/RESULTS.md, stop 26).
START = 12
START_LARGE = 4
#: Neighbours of a slice's best, none better, before the local search leaves that slice.
PATIENCE = 6
#: The same for the slice of the best point so far: its near-ties (a runner-up 0.002
#: points below the best, two moves away) need more than `PATIENCE` neighbours.
LEAD_PATIENCE = 12
#: Standard deviations of the posterior over its mean in a slice's second probe.
KAPPA = 2.0
#: Slices refined at once by local search (the other slots of a batch are global draws).
LEADERS = 2
#: A leading slice of at least `LARGE` points that leads clearly, its best score
#: `CLEAR_LEAD` points or more above every other slice's, gets `EXPLOIT` more points a
#: batch: its unevaluated points of highest predicted mean (`_exploit`). Every slice at
#: 10 calls in the bench's space has fewer than `LARGE` points; a lead of 0.5 points
#: instead of 1 lost a 20-call seed and slowed 50-call ones (bench/RESULTS.md).
LARGE = 500
CLEAR_LEAD = 1.0
EXPLOIT = 2
# Axes whose choices are ordered numbers (a neighbour moves them one step).
_ORDINAL = (0, 1, 2, 3, 4, 7)


def slice_search(
    space: Space, scores: Mapping[Candidate, float], seed: int, batch: int
) -> Generator[list[Candidate], None, None]:
    """Yields batches of new feasible candidates (see the module docstring)."""
    rng = random.Random(seed)
    draws = np.random.default_rng(seed)
    slices = _slices(space)
    large = len(space) >= LARGE * (int(slices.max()) + 1)
    start = rng.sample(range(len(space)), min(len(space), START_LARGE if large else START))
    for begin in range(0, len(start), batch):
        yield [space.candidates[i] for i in start[begin : begin + batch]]
    features = _features(space)
    depths = np.array([len(c.fusers) for c in space.candidates])
    evaluated = np.zeros(len(space), dtype=bool)
    state = _LocalState(np.array([space.cost(c).calls for c in space.candidates]), large)
    rounds = 0
    while len(scores) < len(space):
        for candidate in scores:
            evaluated[space.index(candidate)] = True
        # The matrices are small (a hundred columns): BLAS threads cost more than they
        # save, and on a loaded machine they spin against each other (4x slower measured).
        with threadpool_limits(limits=1, user_api="blas"):
            chosen = _next_batch(
                space, scores, features, (slices, depths), evaluated, state, draws, batch, rounds
            )
        rounds += 1
        if not chosen:
            return
        yield [space.candidates[i] for i in chosen]


def _next_batch(
    space: Space,
    scores: Mapping[Candidate, float],
    features: np.ndarray,
    groups: tuple[np.ndarray, np.ndarray],
    evaluated: np.ndarray,
    state: _LocalState,
    draws: np.random.Generator,
    batch: int,
    rounds: int,
) -> list[int]:
    """One batch after the random start: unprobed slices first, then local refinement of
    the leading slices, the rest of the batch by Thompson draws. ``groups``: each
    candidate's slice and depth (fusion layers)."""
    slices, depths = groups
    rows = np.flatnonzero(evaluated)
    y = np.array([scores[space.candidates[int(i)]] for i in rows])
    model = _BayesianRidge(features[rows], y)
    chosen: list[int] = []
    unprobed = [s for s in range(int(slices.max()) + 1) if s not in state.probed]
    if unprobed:
        for s in unprobed[:batch]:
            state.probed.add(s)
            pool = np.flatnonzero((slices == s) & ~evaluated)
            if len(pool):
                chosen.append(int(pool[np.argmax(model.draw(features[pool], draws))]))
    else:
        # The leading slice at each of its depths once: its best is often at another
        # depth than its first good point, several axis moves away (one fusion layer of
        # five against two of four and three), where the model, fitted mostly elsewhere,
        # does not look on its own.
        lead = int(slices[rows[int(np.argmax(y))]])
        for depth in sorted(set(depths[slices == lead].tolist())):
            if (lead, depth) not in state.probed_depths:
                state.probed_depths.add((lead, depth))
                pool = (slices == lead) & (depths == depth) & ~evaluated
                # On the call limit in large slices only: at 10 calls (slices of 72
                # points) it delayed the best's slice (tests/search).
                pool = _near_the_best(pool, rows, y, state) if state.large else pool
                pool = np.flatnonzero(pool)
                if len(pool):
                    chosen.append(int(pool[np.argmax(model.draw(features[pool], draws))]))
                    break
        local = max(1, batch * LEADERS // 4) if batch > 1 else 1 - rounds % 2
        mean = features @ model.mean
        busy = evaluated.copy()
        busy[chosen] = True
        chosen += state.refine(space, rows, y, slices, mean, busy, local)
        chosen = chosen[:batch]
        if _leads_clearly(rows, y, slices, lead):
            busy[chosen] = True
            room = min(EXPLOIT, batch - len(chosen))
            chosen += _exploit(rows, y, (slices, lead), mean, busy, state, room)
        # Every other batch only: in every batch the second probes took the Thompson
        # draws' slot for 17 batches, and at 20 calls the best was missed more often
        # (95 of 100 seeds against 100, bench/RESULTS.md).
        if len(chosen) < batch and rounds % 2 == 0:
            busy[chosen] = True
            second = _second_probe(features, model, (slices, lead), busy, state.reprobed)
            chosen += [] if second is None else [second]
    chosen += _thompson(features, model, draws, evaluated, chosen, batch - len(chosen))
    return chosen


class _LocalState:
    """Which slices were probed, each slice's best so far and how long since it improved."""

    def __init__(self, calls: np.ndarray, large: bool = False) -> None:
        #: Each candidate's calls per query, and the most any feasible candidate makes.
        self.calls, self.limit = calls, int(calls.max())
        #: Whether the slices hold `LARGE` points or more on average.
        self.large = large
        self.probed: set[int] = set()
        self.probed_depths: set[tuple[int, int]] = set()
        self.reprobed: set[int] = set()
        self.best: dict[int, int] = {}
        self.stale: dict[int, int] = {}
        # A leader keeps its neighbours for many batches: listing them walks thousands
        # of positions.
        self.neighbours: dict[int, list[int]] = {}

    def refine(
        self,
        space: Space,
        rows: np.ndarray,
        y: np.ndarray,
        slices: np.ndarray,
        mean: np.ndarray,
        evaluated: np.ndarray,
        count: int,
    ) -> list[int]:
        """The best predicted new neighbour of the best of each of the ``count`` leading
        slices that have not gone stale."""
        leaders: dict[int, int] = {}
        for k in np.argsort(-y, kind="stable"):
            leaders.setdefault(int(slices[rows[k]]), int(rows[k]))
        for s, i in leaders.items():
            if self.best.get(s) != i:
                self.best[s], self.stale[s] = i, 0
        chosen: list[int] = []
        for rank, (s, i) in enumerate(leaders.items()):  # best first
            patience = LEAD_PATIENCE if rank == 0 else PATIENCE
            if len(chosen) >= count:
                break
            if self.stale[s] >= patience:
                continue
            if i not in self.neighbours:
                self.neighbours[i] = _neighbours(space, i)
            fresh = [j for j in self.neighbours[i] if not evaluated[j] and j not in chosen]
            self.stale[s] += 1
            if not fresh:
                self.stale[s] = patience
                continue
            chosen.append(max(fresh, key=lambda j: (self._trade(i, j), mean[j], -j)))
        return chosen

    def _trade(self, i: int, j: int) -> bool:
        """Whether neighbour ``j`` of ``i``, a point on the call limit, is on it too. The
        best points use every call they may, and a near-tie of them is a trade at the same
        calls (a sample fewer for a verifier, a model more for a fuser less): the model,
        which cannot tell 0.002 points apart, ranks such trades below neighbours that
        cost fewer calls (measured at 20 and 40 calls, bench/RESULTS.md)."""
        return bool(self.calls[i] == self.limit and self.calls[j] >= self.limit)


def _leads_clearly(rows: np.ndarray, y: np.ndarray, slices: np.ndarray, lead: int) -> bool:
    """Whether slice ``lead`` holds at least `LARGE` points and its best score (of ``y``,
    the scores of the evaluated ``rows``) is `CLEAR_LEAD` points or more above the best
    of every other slice."""
    if int(np.sum(slices == lead)) < LARGE:
        return False
    other = y[slices[rows] != lead]
    return not len(other) or float(y.max() - other.max()) >= CLEAR_LEAD


def _exploit(
    rows: np.ndarray,
    y: np.ndarray,
    groups: tuple[np.ndarray, int],
    mean: np.ndarray,
    taken: np.ndarray,
    state: _LocalState,
    count: int,
) -> list[int]:
    """Up to ``count`` points of the leading slice not ``taken``, of highest predicted
    ``mean`` (``groups``: each candidate's slice, and the leading one); only those on the
    call limit (``state``'s) when the slice's best, the best of ``rows`` by ``y``, is on
    it.

    Local search walks from neighbour to neighbour of the slice's best, one pick a batch,
    and the best of a large slice is often not a neighbour of its first good points: at
    20 calls the model ranks it 10th-60th of the ~290 points of its slice on the call
    limit once the slice has a point near the top, and 1st-5th after 10-20 more of the
    slice's points, while it is often not among the leader's neighbours
    (bench/RESULTS.md).
    The model's best guesses over the whole slice, a few a batch, get there sooner. Only
    while the slice leads clearly: at 50 calls, whose best's slice is 0.15 points above
    the next, the same picks without that condition lost 3-6 of 20 seeds."""
    slices, lead = groups
    candidates = np.flatnonzero(_near_the_best((slices == lead) & ~taken, rows, y, state))
    order = candidates[np.argsort(-mean[candidates], kind="stable")]
    return [int(i) for i in order[:count]]


def _near_the_best(
    pool: np.ndarray, rows: np.ndarray, y: np.ndarray, state: _LocalState
) -> np.ndarray:
    """``pool`` (a mask of candidates) cut to the call limit when the best of ``rows``
    (by ``y``) is on it and some of the pool is; else ``pool`` as it is. The best points
    use every call they may: a depth probe below the limit (``m1s1-f5.5`` at 16 of 20
    calls) scores far below its depth's best and left a slice's search at another depth
    for good (bench/RESULTS.md, stop 26)."""
    if state.calls[rows[int(np.argmax(y))]] != state.limit:
        return pool
    on_limit = pool & (state.calls >= state.limit)
    return on_limit if on_limit.any() else pool


def _second_probe(
    features: np.ndarray,
    model: _BayesianRidge,
    groups: tuple[np.ndarray, int],
    taken: np.ndarray,
    reprobed: set[int],
) -> int | None:
    """A second look at one more slice: of the points outside the leading slice
    (``groups``: each candidate's slice, and the leading slice) and the slices looked at
    twice (``reprobed``), the one with the highest upper bound (posterior mean plus `KAPPA`
    standard deviations), its slice marked as looked at; None when none is left.

    A slice's first probe is a draw from a model of a dozen points, often a cheap corner
    (one model, one sample) far below the slice's best, and the local search follows the
    best scores seen, so a slice judged by such a probe was reached late or never (at 10
    calls, the critic-and-ranker slice of the best, 2-4 of 100 seeds). The bound is
    highest where the model is unsure, as it is about a slice it has seen once."""
    slices, lead = groups
    pool = np.flatnonzero(~taken & (slices != lead) & ~np.isin(slices, list(reprobed)))
    if not len(pool):
        return None
    x = features[pool]
    bound = x @ model.mean + KAPPA * np.sqrt(np.sum((x @ model.root) ** 2, axis=1))
    best = int(pool[np.argmax(bound)])
    reprobed.add(int(slices[best]))
    return best


def _thompson(
    features: np.ndarray,
    model: _BayesianRidge,
    draws: np.random.Generator,
    evaluated: np.ndarray,
    chosen: list[int],
    count: int,
) -> list[int]:
    """``count`` new points, each the best of the space under its own posterior draw."""
    picked: list[int] = []
    taken = evaluated.copy()
    taken[chosen] = True
    for _ in range(count):
        if taken.all():
            break
        value = model.draw(features, draws)
        value[taken] = -np.inf
        best = int(np.argmax(value))
        picked.append(best)
        taken[best] = True
    return picked


class _BayesianRidge:
    """Bayesian linear regression of the standardised scores, its weight precision
    (``alpha``) and noise precision (``beta``) by evidence maximisation (MacKay, 1992;
    the updates of Bishop, PRML section 3.5.2)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, iterations: int = 50) -> None:
        self.centre, self.scale = float(y.mean()), float(y.std()) or 1.0
        z = (y - self.centre) / self.scale
        u, s, vt = np.linalg.svd(x, full_matrices=False)
        eig, uz = s**2, u.T @ z
        alpha, beta = 1.0, 10.0
        for _ in range(iterations):
            weights = vt.T @ (s / (eig + alpha / beta) * uz)
            gamma = float(np.sum(beta * eig / (alpha + beta * eig)))
            residual = z - x @ weights
            alpha_next = gamma / max(1e-12, float(weights @ weights))
            beta_next = min(1e6, max(1e-6, len(z) - gamma) / max(1e-12, float(residual @ residual)))
            converged = abs(alpha_next - alpha) < 1e-6 * alpha
            converged = converged and abs(beta_next - beta) < 1e-6 * beta
            alpha, beta = alpha_next, beta_next
            if converged:
                break
        precision = beta * x.T @ x + alpha * np.eye(x.shape[1])
        self.covariance: np.ndarray = np.linalg.inv(precision)
        self.mean: np.ndarray = beta * self.covariance @ x.T @ z
        try:
            self.root = np.linalg.cholesky(self.covariance + 1e-12 * np.eye(x.shape[1]))
        except np.linalg.LinAlgError:
            # Rounding can leave a nearly singular covariance not quite positive definite:
            # its symmetric square root with the negative eigenvalues set to zero.
            values, vectors = np.linalg.eigh((self.covariance + self.covariance.T) / 2)
            self.root = vectors * np.sqrt(np.clip(values, 0.0, None))

    def draw(self, features: np.ndarray, draws: np.random.Generator) -> np.ndarray:
        """The (standardised) scores of ``features`` under one draw of the weights."""
        weights = self.mean + self.root @ draws.standard_normal(len(self.mean))
        value: np.ndarray = features @ weights
        return value


def _neighbours(space: Space, i: int) -> list[int]:
    """The candidates one or two moves from candidate ``i``, in a fixed order. A move sets
    one axis to another of its choices, or the generation layer (models and samples) to
    another pair of both: the best points sit on the call limit, where trading models for
    samples at about the same number of generations (``m7s1`` to ``m4s2``) is one step,
    not two that each leave the limit or the plateau."""
    here = list(space.positions[i])
    moves = [
        [(axis, value)]
        for axis, (_, choices) in enumerate(space.axes)
        for value in range(len(choices))
        if value != here[axis]
    ]
    moves += [
        [(0, models), (1, samples)]
        for models in range(len(space.axes[0][1]))
        for samples in range(len(space.axes[1][1]))
        if models != here[0] and samples != here[1]
    ]
    pairs = [
        a + b
        for a, b in itertools.combinations(moves, 2)
        if not {axis for axis, _ in a} & {axis for axis, _ in b}
    ]
    found: dict[int, None] = {}
    for change in moves + pairs:
        position = here.copy()
        for axis, value in change:
            position[axis] = value
        candidate = space.candidate_of(space.values(position))
        if candidate is not None:
            found.setdefault(space.index(candidate))
    found.pop(i, None)
    return list(found)


def _slices(space: Space) -> np.ndarray:
    """Each candidate's slice number (its categorical choices), in first-seen order."""
    numbers: dict[tuple[bool, int, str], int] = {}
    return np.array(
        [
            numbers.setdefault((c.critic, c.ranker_top_k, c.final), len(numbers))
            for c in space.candidates
        ]
    )


def _features(space: Space) -> np.ndarray:
    """The model's inputs, one row per candidate: an intercept; the counts (models,
    samples, fusers of each layer), generations (models x samples) and calls per query,
    each scaled to [0, 1], with their squares and pairwise products; the depth and the
    categorical choices as indicators, and their products with the counts."""
    candidates = space.candidates
    raw = np.array(
        [[c.model_top_k, c.sample_top_k, *[*c.fusers, 0, 0, 0][:3]] for c in candidates],
        dtype=float,
    )
    calls = np.array([space.cost(c).calls for c in candidates], dtype=float)
    counts = np.column_stack([raw, raw[:, 0] * raw[:, 1], calls])
    counts /= np.maximum(1.0, counts.max(axis=0))
    width = counts.shape[1]
    columns = [np.ones(len(candidates)), *counts.T]
    columns += [counts[:, i] * counts[:, j] for i in range(width) for j in range(i, width)]
    depth = np.array([len(c.fusers) for c in candidates])
    indicators = [(depth == d).astype(float) for d in sorted(set(depth.tolist()))[1:]]
    indicators.append(np.array([c.critic for c in candidates], dtype=float))
    indicators += [
        np.array([c.ranker_top_k == top_k for c in candidates], dtype=float)
        for top_k in sorted({c.ranker_top_k for c in candidates} - {0})
    ]
    indicators += [
        np.array([c.final == final for c in candidates], dtype=float)
        for final in sorted({c.final for c in candidates} - {"none"})
    ]
    columns += indicators
    columns += [flag * count for flag in indicators for count in counts.T]
    return np.stack(columns, axis=1)
