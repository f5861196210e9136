"""Final-race variants replayed on one search's finalists (bench/search_sampled.py --variants).

A search's final ranking decides among finalists a few tenths of a point apart; which race
decides best is measured here without rerunning the search: `capture` records the racing
state as the final ranking starts (every architecture's questions counted so far), and
`replay` runs another race from that state on the same evaluator. A position's answer is
the same whoever asks for it and whenever (the sampled evaluator names its draws), so every
variant sees the answers the search's own race saw, and the points the search's race
answered are reused rather than drawn again. A replay of the search's own settings gives
the search's own choice (checked per seed: ``replay_check``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from archon_async.search._racing import Race
from archon_async.search._record import Evaluation


class _Shim:
    """What `Race` needs of a record, in memory (a replay writes nothing)."""

    def __init__(self, evaluations: dict[str, Evaluation], stored: dict[str, list[float]]):
        self.evaluations = evaluations
        self._stored = stored

    def load_json(self, name: str) -> Any:
        return self._stored if name == "racing.json" else None

    def save_json(self, name: str, data: Any) -> None:
        return None


@contextmanager
def capture() -> Iterator[list[tuple[Race, dict[str, int]]]]:
    """While open, each `Race.final_stages` call first records (race, counted so far)."""
    captured: list[tuple[Race, dict[str, int]]] = []
    original = Race.final_stages

    def recorded(self: Race, count: int) -> AsyncIterator[dict[str, Any]]:
        captured.append((self, dict(self.counted)))
        return original(self, count)

    Race.final_stages = recorded  # type: ignore[method-assign]
    try:
        yield captured
    finally:
        Race.final_stages = original  # type: ignore[method-assign]


class Adaptive(Race):
    """Stages as `stage_plan` (passes doubling), but a finalist leaves only when its mean
    on the window is ``z`` standard errors of the paired difference below the leader's
    (at least ``keep`` stay to the last stage); ``pooled``: the ranking counts every point
    beyond the dev questions (the leaders' first pass too), not only the window."""

    z: float = 2.0
    keep: int = 2
    halve: bool = False
    pooled: bool = False

    def fresh(self, evaluation: Evaluation) -> list[float]:
        if self.pooled:
            return self.extra(evaluation.key)
        return super().fresh(evaluation)

    async def final_stages(self, count: int) -> AsyncIterator[dict[str, Any]]:
        survivors = self.choose_finalists(count)
        level = self.single
        while level <= self.base and level < self.size:
            level = min(self.size, level * 2)
        level = max(level, min(self.size, self.single * self.first_passes))
        reached: dict[str, int] = {}
        stage = 0
        while True:
            stage += 1
            for evaluation in survivors:
                await self.top_up(evaluation, level, final=True)
                reached[evaluation.key] = stage
            survivors = sorted(survivors, key=lambda e: (-self.final_objective(e), e.n))
            for evaluation in survivors:
                self.stage_objectives.setdefault(evaluation.key, []).append(
                    self.final_objective(evaluation)
                )
            if level >= self.size or len(survivors) <= 1:
                break
            survivors = self._keep(survivors)
            level = min(self.size, level * 2)
            yield {"stage": stage, "survivors": len(survivors)}
        self.final_ranking = sorted(
            (self._entry(key, s) for key, s in reached.items()),
            key=lambda e: (-e["stage"], -e["objective"], e["n"]),
        )

    def _keep(self, survivors: list[Evaluation]) -> list[Evaluation]:
        best = self.fresh(survivors[0])
        kept = [survivors[0]]
        for other in survivors[1:]:
            points = self.fresh(other)
            n = min(len(best), len(points))
            diffs = [a - b for a, b in zip(best[-n:], points[-n:], strict=True)]
            mean = sum(diffs) / max(1, n)
            sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / max(1, n - 1))
            if mean <= self.z * sd / math.sqrt(max(1, n)):
                kept.append(other)
        if self.halve:
            kept = kept[: max(self.keep, math.ceil(len(survivors) / 2))]
        return kept if len(kept) >= self.keep else survivors[: self.keep]


class Pooled(Race):
    """Main's stages, ranked on every point beyond the dev questions (the window and the
    leaders' first pass)."""

    def fresh(self, evaluation: Evaluation) -> list[float]:
        return self.extra(evaluation.key)


class Looked(Race):
    """Before the finalists are chosen, the ``looks`` evaluations the model predicts best
    (`Race.predicted`) are topped up to the leaders' questions (a second look at the end
    of the search, which changes nothing before it), then main's final ranking."""

    looks: int = 10

    async def final_stages(self, count: int) -> AsyncIterator[dict[str, Any]]:
        every = list(self.record.evaluations.values())
        for evaluation in self.predicted(every, self.looks):
            await self.top_up(evaluation, self.leader_questions)
        async for event in super().final_stages(count):
            yield event


#: name -> (class, attributes set on the replayed race, draws of the last stage).
VARIANTS: dict[str, tuple[type[Race], dict[str, Any], int | None]] = {
    "same": (Race, {}, None),
    "first1": (Race, {"first_passes": 1}, None),
    "first4": (Race, {"first_passes": 4}, None),
    "draws64": (Race, {}, 64),
    "z1": (Adaptive, {"z": 1.0}, None),
    "z2": (Adaptive, {"z": 2.0}, None),
    "z1-halve": (Adaptive, {"z": 1.0, "halve": True}, None),
    "z2-64": (Adaptive, {"z": 2.0}, 64),
    "pooled": (Pooled, {}, None),
    "z2-pooled": (Adaptive, {"z": 2.0, "pooled": True}, None),
    "pf8": (Race, {"predicted_finalists": 8}, None),
    "pf8-first4": (Race, {"predicted_finalists": 8, "first_passes": 4}, None),
    "pf8-z1-halve": (Adaptive, {"predicted_finalists": 8, "z": 1.0, "halve": True}, None),
    "pf8-z2": (Adaptive, {"predicted_finalists": 8, "z": 2.0}, None),
    "pf8-pooled": (Pooled, {"predicted_finalists": 8}, None),
    "pf4": (Race, {"predicted_finalists": 4}, None),
    "pf8-64": (Race, {"predicted_finalists": 8}, 64),
    "look10": (Looked, {"looks": 10}, None),
    "look20": (Looked, {"looks": 20}, None),
    "look10-pf4": (Looked, {"looks": 10, "predicted_finalists": 4}, None),
    "look10-64": (Looked, {"looks": 10}, 64),
}


def replay(
    race: Race,
    counted: dict[str, int],
    count: int,
    names: list[str],
    exact: Callable[[Evaluation], float],
) -> dict[str, dict[str, Any]]:
    """Each variant's choice (its exact score by ``exact``) and the questions its race
    answered beyond the state at the final ranking's start."""
    out = {}
    for name in names:
        kind, attributes, draws = VARIANTS[name]
        stored = {k: list(v) for k, v in race.stored.items()}
        shim = _Shim(race.record.evaluations, stored)
        again = kind(
            race.evaluator,
            shim,  # type: ignore[arg-type]
            leaders=race.leaders,
            leader_questions=race.leader_questions,
            draws=1,
            outlook=race.outlook,
            second_looks=race.second_looks,
            predicted_finalists=race.predicted_finalists,
            first_passes=race.first_passes,
        )
        again.size = race.evaluator.selection_size(draws) if draws else race.size
        again.counted = dict(counted)
        for key, value in attributes.items():
            setattr(again, key, value)

        async def run(r: Race = again) -> None:
            async for _ in r.final_stages(count):
                pass

        asyncio.run(run())
        chosen = again.final_ranking[0]["key"]
        answered = sum(again.counted.get(k, 0) - counted.get(k, 0) for k in again.counted)
        out[name] = {
            "key": chosen,
            "exact": exact(race.record.evaluations[chosen]),
            "questions": answered,
        }
    return out
