"""The questions a bounded race asks beyond its first stage: those that separate the
finalists (issue 13, ``racing.max_share``).

On a question where every finalist still racing gave the same points on every pass they
answered (all right, or all wrong: an easy or a hard question, the same answer), another
pass learns nothing about which is better: the paired difference there is 0. Under a share
that pays each finalist a few dozen fresh positions, a pass over every question spends
most of it on such questions. So past the positions every finalist answers in the final
ranking's first stage (one pass beyond what they had, `Race.least_first`), each further
pass asks only the *differing* questions (`differing`): those on which the survivors'
points differed somewhere on the window, first (a pass the share cuts asks them), then
those the window has not asked yet (no evidence that they agree).

**Positions stay positions.** Position ``start + j`` is ``pairs[j]`` (question index in the
selection pool, draw), the same for every finalist, so every comparison stays paired and
racing.json, the share's count (each distinct request once a position) and a resume read
the points as they did: the schedule is a function of the points answered before each
pass, which a resumed search reads back, so it is built again the same (and kept in the
run directory, ``race_questions.json``, which tells a run directory raced before this
change apart: it has positions beyond ``start`` and no schedule, and races as it did).

**The same scale.** A finalist's objective on the window counts each question skipped on
a pass at the points every survivor gave it before (the same for each of them), so a
score stays a score over every question and a cost term (``score_per_dollar``) weighs as
much as before against it; the paired differences are those of the questions asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Schedule", "differing", "position_pairs"]


@dataclass
class Schedule:
    """Positions ``start`` onwards of a bounded race: which question of which pass each is.

    Attributes:
        start: the first scheduled position (the end of the first stage's one pass).
        single: positions a pass (the selection questions).
        pairs: per position from ``start``, (question index, draw).
        passes: per scheduled pass, (its end position, the points counted for each
            question it skipped: what every survivor gave it before).
    """

    start: int
    single: int
    pairs: list[tuple[int, int]] = field(default_factory=list)
    passes: list[tuple[int, list[float]]] = field(default_factory=list)

    @property
    def end(self) -> int:
        """The position after the last scheduled one."""
        return self.start + len(self.pairs)

    @property
    def next_draw(self) -> int:
        """The draw (pass) the next scheduled pass runs."""
        return self.start // self.single + len(self.passes)

    def question(self, position: int) -> int:
        """The selection question position ``position`` asks."""
        if position < self.start:
            return position % self.single
        return self.pairs[position - self.start][0]

    def add(self, questions: Sequence[int], skipped: list[float]) -> int:
        """Schedules the next pass on ``questions`` (``skipped``: the points counted for
        the others); returns its end position."""
        draw = self.next_draw
        self.pairs += [(q, draw) for q in questions]
        self.passes.append((self.end, skipped))
        return self.end

    def skipped(self, reach: int) -> list[float]:
        """The points counted for the questions skipped by the passes a finalist that
        answered ``reach`` positions finished."""
        return [points for end, values in self.passes if end <= reach for points in values]

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "pairs": [list(p) for p in self.pairs]}


def differing(
    schedule: Schedule, windows: Sequence[Sequence[float]], base: int
) -> tuple[list[int], list[float]]:
    """The questions the survivors' points (``windows``: each one's points on positions
    ``base`` onwards, the same positions for all) differ on somewhere, then those never
    asked there, each in question order; and for each other question the points all of
    them gave it (their mean over its positions: the same for each)."""
    asked: dict[int, list[float]] = {}
    differ: set[int] = set()
    length = min(len(w) for w in windows)
    for offset in range(length):
        question = schedule.question(base + offset)
        values = {w[offset] for w in windows}
        asked.setdefault(question, []).append(windows[0][offset])
        if len(values) > 1:
            differ.add(question)
    # The questions seen to separate them first, then those not asked yet: a pass the
    # share cuts asks the ones known to separate.
    questions = sorted(differ) + [q for q in range(schedule.single) if q not in asked]
    skipped = [sum(asked[q]) / len(asked[q]) for q in sorted(asked) if q not in differ]
    return questions, skipped


def position_pairs(start: int, stop: int, per_pass: int) -> list[tuple[int, int]]:
    """The (selection question index, pass) of positions ``start`` to ``stop``: position
    ``i`` is question ``i % per_pass`` of pass ``i // per_pass``, the numbering every
    evaluator's ``score_positions`` shares."""
    return [(i % per_pass, i // per_pass) for i in range(start, stop)]
