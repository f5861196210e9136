"""The exact expected score of any architecture of a space under the simulated effects.

The state after each stage of an architecture is the exact joint distribution of (number
of candidates, number of them right), per question, held as ``{n: array[questions, n+1]}``.
Each stage (generators, ranker, fusion layer, verifier, unit tests, final fuser) maps one
such state to the next by a closed form or a small dynamic programme (a Poisson binomial
over a layer's fusers). States are memoised by the stages that made them, so
architectures sharing a prefix share its computation and a whole space of 100,000
architectures is scored in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from math import comb

import numpy as np

from ._effects import Effects, QuestionSet
from ._space import Candidate, Space

__all__ = ["Truth"]

State = dict[int, np.ndarray]


class Truth:
    """Exact expected scores (in points, 0-100) of a space's architectures.

    Args:
        space: the space (its models are in ranked order: fusers use the best first).
        effects: the simulated effects.
        judged: the benchmark is scored by a judge (``judge_skill`` applies).
    """

    def __init__(self, space: Space, effects: Effects, *, judged: bool) -> None:
        self.space = space
        self.effects = effects
        self.judged = judged
        self.questions = QuestionSet(effects, [m.model for m in space.models])
        self._states: dict[tuple[object, ...], State] = {}
        self._table: np.ndarray | None = None
        self._fusions: dict[tuple[int, int, bool], np.ndarray] = {}

    # -- public -----------------------------------------------------------------------

    def accuracy(self, candidate: Candidate) -> np.ndarray:
        """Per question, the chance that the architecture's final answer is right."""
        ext = self.space.settings.archon_async
        key = self._prefix(candidate)
        state = self._state(key)
        if ext.add_final_fuser:
            state = self._memo((*key, "final_fuser"), lambda: self._fuse(state, 1, False))
            return state[1][:, 1]
        # No final fuser: a random one of the remaining candidates is the answer.
        total = np.zeros(self.effects.questions)
        for n, dist in state.items():
            total += dist @ (np.arange(n + 1) / n)
        return total

    def score(self, candidate: Candidate) -> float:
        """The expected score in points: accuracy, or the judge's win rate if judged."""
        right = self.accuracy(candidate)
        if self.judged:
            skill = self.effects.judge_skill
            right = skill * right + (1 - skill) * (1 - right)
        return float(100.0 * right.mean())

    def model_score(self, model: str) -> float:
        """The expected score of one model alone (one sample, no fuser)."""
        right = self.questions.chance(model)
        if self.judged:
            skill = self.effects.judge_skill
            right = skill * right + (1 - skill) * (1 - right)
        return float(100.0 * right.mean())

    def table(self) -> np.ndarray:
        """The score of every candidate of the space, in `Space.candidates` order."""
        if self._table is None:
            self._table = np.array([self.score(c) for c in self.space.candidates])
        return self._table

    # -- stages -----------------------------------------------------------------------

    def _prefix(self, c: Candidate) -> tuple[object, ...]:
        key: tuple[object, ...] = (("gen", c.model_top_k, c.sample_top_k),)
        for width in c.fusers:
            key += (("layer", width, c.critic, c.ranker_top_k),)
        if c.final != "none":
            key += (("final", c.final),)
        return key

    def _memo(self, key: tuple[object, ...], make: Callable[[], State]) -> State:
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = make()
        return state

    def _state(self, key: tuple[object, ...]) -> State:
        cached = self._states.get(key)
        if cached is not None:
            return cached
        stage = key[-1]
        assert isinstance(stage, tuple)
        if len(key) == 1:
            return self._memo(key, lambda: self._generate(stage[1], stage[2]))
        previous = self._state(key[:-1])
        if stage[0] == "layer":
            _, width, critic, top_k = stage

            def layer() -> State:
                ranked = previous
                if top_k:
                    accuracy = self.effects.ranker_accuracy + (
                        self.effects.critique_ranker_bonus if critic else 0.0
                    )
                    ranked = _select(previous, top_k, min(1.0, accuracy))
                return self._fuse(ranked, width, critic)

            return self._memo(key, layer)
        final = stage[1]
        if final == "verifier":
            return self._memo(key, lambda: _verify(previous, self.effects))
        top_k = self.space.settings.archon_async.final_top_k
        return self._memo(key, lambda: _select(previous, top_k, self.effects.unit_test_accuracy))

    def _generate(self, models: int, samples: int) -> State:
        rho = self.effects.sample_correlation
        total = np.ones((self.effects.questions, 1))
        for row in self.questions.p[:models]:
            one = np.zeros((self.effects.questions, samples + 1))
            ks = np.arange(samples + 1)
            coefficients = np.array([comb(samples, k) for k in ks], dtype=float)
            binomial = coefficients * row[:, None] ** ks * (1 - row[:, None]) ** (samples - ks)
            one += (1 - rho) * binomial
            one[:, 0] += rho * (1 - row)
            one[:, samples] += rho * row
            total = _convolve(total, one)
        return {models * samples: total}

    def _fuse(self, state: State, width: int, critic: bool) -> State:
        out = np.zeros((self.effects.questions, width + 1))
        for n, dist in state.items():
            out += np.einsum("qk,qkc->qc", dist, self._fusion(n, width, critic))
        return {width: out}

    def _fusion(self, n: int, width: int, critic: bool) -> np.ndarray:
        """For ``n`` candidates in: per question and right count ``k``, the distribution of
        the right count among the layer's ``width`` fusers (a Poisson binomial). It does not
        depend on what came before, so it is computed once per (n, width, critic)."""
        key = (n, width, critic)
        cached = self._fusions.get(key)
        if cached is not None:
            return cached
        e = self.effects
        corrupt_factor = e.critique_corrupt_factor if critic else 1.0
        rescue_base = min(1.0, e.fuser_rescue + (e.critique_rescue_bonus if critic else 0.0))
        share = np.arange(n + 1) / n
        counts = np.zeros((e.questions, n + 1, width + 1))
        counts[:, :, 0] = 1.0
        for row in self.questions.p[:width]:
            pf = row[:, None]
            own = e.fuser_self * pf
            minority = share + (1 - share) * rescue_base * pf * 2 * share
            chance = np.where(
                share > 0.5,
                1 - e.fuser_corrupt * (1 - pf) * corrupt_factor,
                np.maximum(own, minority),
            )
            chance[:, 0] = own[:, 0]
            shifted = np.zeros_like(counts)
            shifted[:, :, 1:] = counts[:, :, :-1]
            counts = counts * (1 - chance[:, :, None]) + shifted * chance[:, :, None]
        self._fusions[key] = counts
        return counts


def _convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, the distribution of the sum of two independent counts."""
    out = np.zeros((a.shape[0], a.shape[1] + b.shape[1] - 1))
    for j in range(b.shape[1]):
        out[:, j : j + a.shape[1]] += a * b[:, j : j + 1]
    return out


def _select(state: State, keep: int, accuracy: float) -> State:
    """A ranker (or unit tests) keeping ``keep``: sorted right-first with ``accuracy``,
    else a random subset."""
    out: State = {}
    for n, dist in state.items():
        if keep >= n:
            out[n] = out.get(n, 0) + dist
            continue
        moved = dist @ _selection_matrix(n, keep, accuracy)
        out[keep] = out.get(keep, 0) + moved
    return out


@lru_cache(maxsize=4096)
def _selection_matrix(n: int, keep: int, accuracy: float) -> np.ndarray:
    matrix = np.zeros((n + 1, keep + 1))
    for k in range(n + 1):
        matrix[k, min(k, keep)] += accuracy
        for right in range(max(0, keep - (n - k)), min(k, keep) + 1):
            hyper = comb(k, right) * comb(n - k, keep - right) / comb(n, keep)
            matrix[k, right] += (1 - accuracy) * hyper
    return matrix


def _verify(state: State, effects: Effects) -> State:
    out: State = {}
    for n, dist in state.items():
        moves = _verifier_moves(n, effects.verifier_tpr, effects.verifier_fpr)
        for kept, matrix in moves.items():
            out[kept] = out.get(kept, 0) + dist @ matrix
    return out


@lru_cache(maxsize=1024)
def _verifier_moves(n: int, tpr: float, fpr: float) -> dict[int, np.ndarray]:
    """For ``n`` candidates, kept count -> matrix [right before, right kept]."""
    moves: dict[int, np.ndarray] = {}
    for k in range(n + 1):
        for a in range(k + 1):
            pa = comb(k, a) * tpr**a * (1 - tpr) ** (k - a)
            for b in range(n - k + 1):
                pb = comb(n - k, b) * fpr**b * (1 - fpr) ** (n - k - b)
                kept, right = (a + b, a) if a + b else (n, k)  # none kept: all pass on
                matrix = moves.setdefault(kept, np.zeros((n + 1, kept + 1)))
                matrix[k, right] += pa * pb
    return moves
