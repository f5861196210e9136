"""Which calls of a search's architectures are the same request (so the cache answers them).

A call's reply is decided by its request: the model, the prompt and the sample number.
The prompt of each built-in component is decided by the question and by the candidates
(and critiques) it reads, which are themselves replies of earlier calls. So a call can be
named without running it: by its component, model and sample, and by the names of the
candidates it reads. Two architectures make the same call exactly when these names are
equal, for example the j-th sample of a model (shared by every architecture drawing more
than j samples of it, and by the model ranking for j = 0), a critic reading the same
generations, or a fusion layer's i-th fuser fed the same candidates. `calls_of` walks an
architecture as `Space.archon_config` builds it; `shared_calls` counts the distinct
requests of a set of architectures, which is what a search with a response cache sends.

Names are interned as small integers (`Names`), so a set of a few thousand architectures
is walked in milliseconds.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from ._space import Candidate, Space

__all__ = ["Call", "Names", "calls_of", "generator_call"]


class Names:
    """Interns hashable descriptions as integers (equal descriptions, equal names)."""

    def __init__(self) -> None:
        self._ids: dict[Hashable, int] = {}

    def __call__(self, *parts: Hashable) -> int:
        return self._ids.setdefault(parts, len(self._ids))


@dataclass(frozen=True, slots=True)
class Call:
    """One call of one question of an architecture.

    Attributes:
        name: equal for two calls exactly when they are the same request and sample.
        kind: the component (``generator``, ``critic``, ``ranker``, ``fuser``,
            ``verifier_reasoning``, ``verifier_verdict``, ``unit_test_generator``,
            ``unit_test_evaluator``).
        model: the provider's model id.
        reads: the candidates its prompt holds.
        critiques: whether its prompt holds a critique of each candidate.
    """

    name: int
    kind: str
    model: str
    reads: int = 0
    critiques: bool = False


def generator_call(names: Names, model: str, sample: int) -> Call:
    """Sample ``sample`` of ``model`` alone on the question (the model ranking draws 0)."""
    return Call(names("generator", model, sample), "generator", model)


def calls_of(space: Space, candidate: Candidate, names: Names) -> list[Call]:
    """Every call one question of ``candidate`` makes, as `Space.archon_config` builds it
    (each component's first attempt: parse retries are not foreseen)."""
    best = space.models[0].model
    calls: list[Call] = []
    gens = [
        generator_call(names, model.model, j)
        for model in space.models[: candidate.model_top_k]
        for j in range(candidate.sample_top_k)
    ]
    calls += gens
    candidates = [call.name for call in gens]
    for width in candidate.fusers:
        critiques = -1
        if candidate.critic:
            critiques = names("critic", *candidates)
            calls.append(Call(critiques, "critic", best, len(candidates)))
        if candidate.ranker_top_k and len(candidates) > 1:  # one candidate: no call
            ranking = names("ranker", critiques, *candidates)
            calls.append(Call(ranking, "ranker", best, len(candidates), critiques >= 0))
            # The i-th best is the same candidate whatever number the ranker keeps.
            kept = min(candidate.ranker_top_k, len(candidates))
            candidates = [names("ranked", ranking, i) for i in range(kept)]
        fusers = [
            Call(
                names("fuser", m.model, critiques, *candidates),
                "fuser",
                m.model,
                len(candidates),
                critiques >= 0,
            )
            for m in space.models[:width]
        ]
        calls += fusers
        candidates = [call.name for call in fusers]
    calls += _final_stage(space, candidate, candidates, names)
    return calls


def _final_stage(
    space: Space, candidate: Candidate, candidates: list[int], names: Names
) -> list[Call]:
    best = space.models[0].model
    calls: list[Call] = []
    if candidate.final == "verifier":
        # Each candidate is checked alone: the same candidate, the same two calls.
        for each in candidates:
            reasoning = names("verifier_reasoning", each)
            calls.append(Call(reasoning, "verifier_reasoning", best, 1))
            calls.append(Call(names("verifier_verdict", reasoning), "verifier_verdict", best, 1))
        candidates = [names("verified", *candidates)] * len(candidates)
    elif candidate.final == "unit_tests":
        tests = names("unit_test_generator")
        calls.append(Call(tests, "unit_test_generator", best))
        calls += [
            Call(names("unit_test_evaluator", each), "unit_test_evaluator", best, 1)
            for each in candidates
        ]
        kept = min(space.settings.archon_async.final_top_k, len(candidates))
        candidates = [names("passed", kept, *candidates)] * kept
    if space.settings.archon_async.add_final_fuser:
        calls.append(Call(names("fuser", best, -1, *candidates), "fuser", best, len(candidates)))
    return calls


def distinct(calls: Iterable[Call]) -> dict[int, Call]:
    """The distinct requests among ``calls``, by name."""
    return {call.name: call for call in calls}
