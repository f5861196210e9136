"""Search algorithms: which architectures to evaluate next, given the scores so far.

An algorithm is a generator: it yields a list of candidates to evaluate, and when it
resumes, the runner has put their scores in the ``scores`` mapping it was given. Nothing
else is shared, so an algorithm run again with the same seed over the recorded scores
proposes exactly the same candidates: that is how a killed search resumes to the same
result. Every candidate proposed is feasible (the space holds no other) and new.

* ``grid_search``: the space in Archon's nested-loop order.
* ``random_search``: a seeded permutation of the space.
* ``greedy_search``: coordinate ascent, one axis at a time from Archon's first choices,
  until a full round changes nothing; then the nearest unevaluated points of the best.
* ``tpe`` (Archon's ``bayesian_optimization``) and ``gaussian_process``: Optuna's
  TPESampler and GPSampler over the raw axes (proposals that are infeasible or already
  evaluated are moved to the nearest new feasible point, and Optuna is told the point
  actually evaluated).
* ``slice_search`` (ours): a Bayesian linear model of the whole space, every slice of the
  categorical choices probed near its own best, then local refinement of the leading
  slices plus Thompson draws (see `archon_async.search._slice_search`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Mapping
from typing import Any

import numpy as np

from .._exceptions import ConfigError
from ._slice_search import slice_search
from ._space import AXES, Candidate, Space

__all__ = ["ALGORITHMS", "Proposals", "check_algorithm", "make_algorithm"]

#: Yields candidates to evaluate; their scores are in the mapping when it resumes.
Proposals = Generator[list[Candidate], None, None]
Factory = Callable[[Space, Mapping[Candidate, float], int, int], Proposals]

# Axes whose choices are ordered numbers (a step to the next choice is a small change).
_ORDINAL = {
    "model_top_k",
    "sample_top_k",
    "fuser_layer_1",
    "fuser_layer_2",
    "fuser_layer_3",
    "ranker_top_k",
}


def grid_search(
    space: Space, scores: Mapping[Candidate, float], seed: int, batch: int
) -> Proposals:
    for start in range(0, len(space), batch):
        yield list(space.candidates[start : start + batch])


def random_search(
    space: Space, scores: Mapping[Candidate, float], seed: int, batch: int
) -> Proposals:
    order = list(space.candidates)
    random.Random(seed).shuffle(order)
    for start in range(0, len(order), batch):
        yield order[start : start + batch]


def greedy_search(
    space: Space, scores: Mapping[Candidate, float], seed: int, batch: int
) -> Proposals:
    positions = np.array(space.positions)
    start = _nearest(space, positions, np.zeros(len(AXES)), scores)
    if start is None:
        return
    yield [start]
    best = start
    changed = True
    while changed:
        changed = False
        for axis, (_, choices) in enumerate(space.axes):
            here = list(space.positions[space.index(best)])
            line = []
            for value in range(len(choices)):
                here[axis] = value
                candidate = space.candidate_of(space.values(here))
                if candidate is not None and candidate not in scores and candidate not in line:
                    line.append(candidate)
            for begin in range(0, len(line), batch):
                yield line[begin : begin + batch]
            top = max(scores, key=lambda c: (scores[c], -space.index(c)))
            if top != best:
                best, changed = top, True
    yield from _around_best(space, scores, batch)


def _around_best(space: Space, scores: Mapping[Candidate, float], batch: int) -> Proposals:
    """Then the unevaluated points nearest the best, until the space is exhausted."""
    positions = np.array(space.positions, dtype=float)
    while len(scores) < len(space):
        best = max(scores, key=lambda c: (scores[c], -space.index(c)))
        distance = _distances(space, positions, positions[space.index(best)])
        order = np.argsort(distance, kind="stable")
        fresh = [space.candidates[i] for i in order if space.candidates[i] not in scores]
        yield fresh[:batch]


def _distances(space: Space, positions: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Distance of every candidate's position to ``point``: steps on ordered axes, 0/1 on
    the others, each axis scaled to [0, 1]."""
    total = np.zeros(len(positions))
    for axis, (name, choices) in enumerate(space.axes):
        span = max(1, len(choices) - 1)
        gap = np.abs(positions[:, axis] - point[axis])
        total += gap / span if name in _ORDINAL else (gap > 0)
    return total


def _nearest(
    space: Space,
    positions: np.ndarray,
    point: np.ndarray,
    taken: Mapping[Candidate, float] | set[Candidate],
) -> Candidate | None:
    distance = _distances(space, positions, point)
    for i in np.argsort(distance, kind="stable"):
        candidate = space.candidates[int(i)]
        if candidate not in taken:
            return candidate
    return None


def optuna_search(kind: str) -> Factory:
    """Optuna's TPE (``kind="tpe"``) or GP (``"gaussian_process"``) sampler."""

    def search(space: Space, scores: Mapping[Candidate, float], seed: int, batch: int) -> Proposals:
        import optuna
        from optuna.distributions import IntDistribution
        from optuna.trial import TrialState, create_trial

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        distributions: dict[str, Any] = {
            name: IntDistribution(0, len(choices) - 1) for name, choices in space.axes
        }
        study = optuna.create_study(direction="maximize", sampler=_sampler(kind, seed, 0))
        positions = np.array(space.positions, dtype=float)
        while len(scores) < len(space):
            # A sampler seeded afresh for every proposal: what it proposes depends only on
            # the seed and the history, never on how many proposals an earlier run made.
            trials: list[Any] = []
            chosen: list[Candidate] = []
            for slot in range(batch):
                study.sampler = _sampler(kind, seed, len(study.trials) * 1000 + slot)
                trial = study.ask(distributions)
                point = np.array([trial.params[name] for name, _ in space.axes], dtype=float)
                taken = set(scores) | set(chosen)
                candidate = space.candidate_of(space.values([int(v) for v in point]))
                if candidate is None or candidate in taken:
                    candidate = _nearest(space, positions, point, taken)
                if candidate is None:
                    study.tell(trial, state=TrialState.FAIL)
                    break
                trials.append(trial)
                chosen.append(candidate)
            if not chosen:
                return
            yield chosen
            for trial, candidate in zip(trials, chosen, strict=True):
                asked = tuple(int(trial.params[name]) for name, _ in space.axes)
                if asked == space.positions[space.index(candidate)]:
                    study.tell(trial, scores[candidate])
                    continue
                study.tell(trial, state=TrialState.FAIL)
                where = space.positions[space.index(candidate)]
                study.add_trial(
                    create_trial(
                        params={name: where[i] for i, (name, _) in enumerate(space.axes)},
                        distributions=distributions,
                        value=scores[candidate],
                    )
                )

    return search


def _sampler(kind: str, seed: int, salt: int) -> Any:
    import optuna

    # numpy's legacy seeding, under Optuna's samplers, takes 0 to 2**32 - 1: wrapped, so
    # that a seed above 4,294 is not refused (those below keep their proposals).
    mixed = (seed * 1_000_003 + salt) % 2**32
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=mixed, multivariate=True, n_startup_trials=10)
    check_algorithm("gaussian_process")
    return optuna.samplers.GPSampler(seed=mixed, deterministic_objective=True)


def check_algorithm(name: str) -> None:
    """Refuse, before a search makes any call, an algorithm that is not one of ours or
    whose library is not installed.

    Raises:
        ConfigError: unknown algorithm (the choices are listed), or gaussian_process
            without torch and scipy.
    """
    if name not in ALGORITHMS:
        from ._load import suggestion

        raise ConfigError(
            f"unknown search algorithm {name!r}{suggestion(name, list(ALGORITHMS)) or ';'} "
            f"choose one of: {', '.join(ALGORITHMS)}"
        )
    if name == "gaussian_process":
        import importlib.util

        if any(importlib.util.find_spec(lib) is None for lib in ("torch", "scipy")):
            raise ConfigError(
                "the gaussian_process algorithm is Optuna's GPSampler, which needs torch and "
                "scipy (pip install torch scipy); tpe or slice_search need neither"
            )


ALGORITHMS: dict[str, Factory] = {
    "grid_search": grid_search,
    "random_search": random_search,
    "greedy_search": greedy_search,
    "tpe": optuna_search("tpe"),
    "bayesian_optimization": optuna_search("tpe"),
    "gaussian_process": optuna_search("gaussian_process"),
    "slice_search": slice_search,
}


def make_algorithm(
    name: str, space: Space, scores: Mapping[Candidate, float], *, seed: int, batch: int
) -> Proposals:
    """The proposals of algorithm ``name`` over ``space``.

    Raises:
        ConfigError: unknown algorithm (the choices are listed).
    """
    check_algorithm(name)
    return ALGORITHMS[name](space, scores, seed, batch)
