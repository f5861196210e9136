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

A selection stage (a ranker, a verifier, the unit-test evaluator) often hands on its input
as it came: the same candidates in the same order (a verifier on one candidate always
does, keeping it whether it passes or not; a ranker that keeps the order shown). The next
stage then reads exactly what the same architecture without that selection reads, and the
cache answers it. `PassThrough` says, for one question, which selection calls did so
(drawn with the chances of `PassThrough.chance`); ``calls_of(..., passes)`` names the
calls after such a stage as those without it. Without ``passes`` every selection is taken
to change its input (the names racing's share counts, `_race_share`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._space import Candidate, Space

__all__ = ["Call", "Names", "PassThrough", "calls_of", "generator_call", "pass_through_shares"]


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


class PassThrough:
    """Which selection calls of one question hand on their input unchanged, drawn once per
    call (every architecture making that call sees the same outcome, as a run's cache
    gives it the same reply).

    Args:
        shared: for the ``verifier`` and the ``unit_test_evaluator``, the measured chance
            that it hands on two candidates unchanged (`pass_through_shares`); missing
            kinds: never, for two or more candidates.
        seed: the draws' seed.
    """

    def __init__(self, shared: Mapping[str, float], seed: int) -> None:
        self.shared = dict(shared)
        self._rng = random.Random(seed)
        self._drawn: dict[int, bool] = {}

    def chance(self, kind: str, count: int, kept: int) -> float:
        """The chance that a ``kind`` stage given ``count`` candidates hands on the first
        ``kept`` of them in their order. One candidate: a verifier or a unit-test
        evaluator keeps it whatever its verdict. A ranker: as likely as any other order of
        ``kept`` of ``count`` (a ranking independent of the order shown; a model that
        favours the order shown shares more). A verifier or unit-test evaluator on more:
        the measured chance for two, once more for each further candidate."""
        if kind == "ranker":
            return 1.0 / math.perm(count, kept) if count > 1 else 1.0
        if count <= 1:
            return 1.0
        return self.shared.get(kind, 0.0) ** (count - 1)

    def __call__(self, kind: str, name: int, count: int, kept: int) -> bool:
        """Whether the ``kind`` call ``name`` hands on the first ``kept`` of its ``count``
        candidates unchanged (drawn once per name)."""
        through = self._drawn.get(name)
        if through is None:
            chance = self.chance(kind, count, kept)
            through = self._drawn[name] = chance >= 1.0 or self._rng.random() < chance
        return through


def pass_through_shares(traces: Iterable[Any]) -> dict[str, float]:
    """The share of runs in which each selection stage on two or more candidates handed
    them on unchanged (a verifier: every one kept; a unit-test evaluator: its first ones
    kept in their order), from traces of `Engine.generate` (the estimate's pilot); a
    stage never seen is left out."""
    seen: dict[str, list[bool]] = {}
    for trace in traces:
        shown: list[Any] = []
        for layer in trace.layers:
            written = [c for c in layer.components if "candidates" in c.outputs]
            for component in written:
                kept = list(component.outputs["candidates"])
                if component.type in _SELECTIONS and len(shown) > 1:
                    # A verifier hands on all it was shown; the evaluator its top_k first.
                    whole = shown if component.type == "verifier" else shown[: len(kept)]
                    seen.setdefault(component.type, []).append(kept == whole)
            if written:
                shown = [text for c in written for text in c.outputs["candidates"]]
    return {kind: sum(flags) / len(flags) for kind, flags in seen.items()}


#: The stages whose share of runs handing on their input `pass_through_shares` measures.
_SELECTIONS = ("verifier", "unit_test_evaluator")


def generator_call(names: Names, model: str, sample: int) -> Call:
    """Sample ``sample`` of ``model`` alone on the question (the model ranking draws 0)."""
    return Call(names("generator", model, sample), "generator", model)


def calls_of(
    space: Space, candidate: Candidate, names: Names, passes: PassThrough | None = None
) -> list[Call]:
    """Every call one question of ``candidate`` makes, as `Space.archon_config` builds it
    (each component's first attempt: parse retries are not foreseen); with ``passes``,
    the calls after a selection that handed on its input named as without it."""
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
            if passes is not None and passes("ranker", ranking, len(candidates), kept):
                candidates = candidates[:kept]
            else:
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
    calls += _final_stage(space, candidate, candidates, names, passes)
    return calls


def _final_stage(
    space: Space,
    candidate: Candidate,
    candidates: list[int],
    names: Names,
    passes: PassThrough | None,
) -> list[Call]:
    best = space.models[0].model
    calls: list[Call] = []
    if candidate.final == "verifier":
        # Each candidate is checked alone: the same candidate, the same two calls.
        for each in candidates:
            reasoning = names("verifier_reasoning", each)
            calls.append(Call(reasoning, "verifier_reasoning", best, 1))
            calls.append(Call(names("verifier_verdict", reasoning), "verifier_verdict", best, 1))
        verified = names("verified", *candidates)
        count = len(candidates)
        if passes is None or not passes("verifier", verified, count, count):
            candidates = [verified] * count
    elif candidate.final == "unit_tests":
        tests = names("unit_test_generator")
        calls.append(Call(tests, "unit_test_generator", best))
        calls += [
            Call(names("unit_test_evaluator", each), "unit_test_evaluator", best, 1)
            for each in candidates
        ]
        kept = min(space.settings.archon_async.final_top_k, len(candidates))
        passed = names("passed", kept, *candidates)
        if passes is not None and passes("unit_test_evaluator", passed, len(candidates), kept):
            # The tests stay in the prompt: only a stage after the same tests reads this.
            candidates = [names("tested", tests, each) for each in candidates[:kept]]
        else:
            candidates = [passed] * kept
    if space.settings.archon_async.add_final_fuser:
        calls.append(Call(names("fuser", best, -1, *candidates), "fuser", best, len(candidates)))
    return calls


def distinct(calls: Iterable[Call]) -> dict[int, Call]:
    """The distinct requests among ``calls``, by name."""
    return {call.name: call for call in calls}
