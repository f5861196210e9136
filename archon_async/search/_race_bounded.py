"""The final ranking's race when a share bounds its calls (issue 13, ``racing.max_share``).

Successive halving (`archon_async.search._racing.stage_plan`) plans stages for a race that
runs to its end: every finalist to ``first_passes`` passes, then the better half on twice
as many, and so on. Under a share the race stops where the share is spent; here its
stages are chosen pass by pass, each once the one before it is answered, so that what a
finalist clearly behind would have spent goes to the finalists still close:

* the first stage takes every finalist one pass beyond what they had (always: Archon's
  final ranking when no leader was topped up);
* then pass by pass, the survivors are at most the plan's for that pass (how many race
  there by `stage_plan`), less any finalist **clearly behind** (`clearly_behind`: its
  objective on the window more than `BEHIND` standard errors of its paired difference
  below the leader's) whose requests cost anything (one whose requests the others make
  anyway races free, from the cache, and stays);
* up to the plan's first stage (``first_passes``), a pass the share cannot pay for all of
  them is cut, at the same position for each, and the race ends there: every finalist
  races on until then (halving four finalists after their first pass, on 20 fresh
  questions, lost the best of them on one of twelve small searches, bench/RESULTS.md);
* past it, when the share cannot pay the next whole pass for all survivors, the worse
  half leave (two race on) and the pass is tried again for the rest; two take their last
  pass as far as the share allows;
* every pass after the first stage's asks only the questions that can separate the
  survivors (`archon_async.search._race_questions`: those their points differed on,
  first, then those not asked yet), so the share buys more of them: on twelve small
  engine searches the median regret went 6.87 -> 5.36 points at the same calls
  (bench/RESULTS.md, "the race on the questions that separate the finalists").

**Fair by construction**: every survivor of a stage answers the same positions, so each
comparison is paired, and a cut pass is cut at the same position for each (its first
questions then count once more than the rest, for every finalist alike). A finalist that
left ranks below every survivor, by the stage it reached (`Race.final_stages`); none is
chosen or dropped without having answered the positions it is compared on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from ._race_questions import Schedule, differing
from ._record import Evaluation

if TYPE_CHECKING:
    from ._racing import Order, Race

__all__ = ["BEHIND", "bounded_steps", "clearly_behind"]

#: Standard errors of the paired difference a finalist's mean on the window must lie
#: below the leader's to leave before its stage would halve it: the leader is the best of
#: the survivors, whose lead over each is inflated by that choice, and the test is made
#: after every pass; 3 keeps a false exit under about 1% a look for four finalists.
BEHIND = 3.0


def bounded_steps(
    race: Race, every: list[Evaluation], finalists: list[Evaluation], order: Order
) -> Iterator[tuple[list[Evaluation], int]]:
    """The stages of ``race``'s final ranking under its share (survivors, positions each),
    as the module docstring says; ``every``: the evaluations the share is counted on,
    ``order``: how finalists rank at a stage."""
    plan = race.stages(len(finalists), race.base)
    level = race.least_first(len(finalists), race.base)
    race.schedule = _schedule(race, finalists, level)
    survivors = list(finalists)
    yield survivors, level
    while len(survivors) > 1:
        survivors = sorted(survivors, key=order)
        survivors = [e for e in survivors if not _leaves(race, survivors, e)]
        step = _next_pass(race, survivors, level)
        if step is None:
            return  # no pass left, or none that could separate them
        survivors = survivors[: next(n for n, reach in plan if reach >= step[1])]
        if step[1] > plan[0][1]:  # past the first stage: halve rather than cut the pass
            while len(survivors) > 2 and race._afforded(every, survivors, step[0]) < step[0]:
                survivors = survivors[: max(2, math.ceil(len(survivors) / 2))]
                step = _next_pass(race, survivors, level)
                if step is None:
                    return
        if len(survivors) < 2:
            return  # one left: nothing to race
        planned = _schedule_pass(race, survivors, level, step)
        level = race._afforded(every, survivors, planned)
        if not level:
            return
        yield survivors, level
        if level < planned:
            return  # the last stage, as far as the share allows


def _schedule(race: Race, finalists: Sequence[Evaluation], start: int) -> Schedule | None:
    """The schedule of the positions past ``start`` (the first stage's one pass), or None
    for a run directory that raced past it before schedules were kept (it races on every
    question, as it did)."""
    saved = race.record.load_json("race_questions.json")
    stored = max(e.questions + len(race.stored.get(e.key, [])) for e in finalists)
    if saved is None and stored > start:
        return None
    return Schedule(start, race.single)


def _next_pass(race: Race, survivors: Sequence[Evaluation], level: int) -> tuple[int, int] | None:
    """The next pass for ``survivors`` at ``level``: (the positions it takes them to, as
    many positions as whole passes would be, for the plan), or None when there is none."""
    schedule = race.schedule
    if schedule is None:
        return (level + race.single,) * 2 if level < race.size else None
    if schedule.next_draw * race.single >= race.size:
        return None
    questions, _ = differing(schedule, [race.fresh(e) for e in survivors], race.base)
    if not questions:
        return None
    return level + len(questions), (schedule.next_draw + 1) * race.single


def _schedule_pass(
    race: Race, survivors: Sequence[Evaluation], level: int, step: tuple[int, int]
) -> int:
    """Schedules the pass ``step`` (`_next_pass`) for ``survivors``; the positions it
    takes them to."""
    schedule = race.schedule
    if schedule is None:
        return step[0]
    assert schedule.end == level, (schedule.end, level)
    questions, skipped = differing(schedule, [race.fresh(e) for e in survivors], race.base)
    end = schedule.add(questions, skipped)
    race.record.save_json("race_questions.json", schedule.to_json())
    return end


def _leaves(race: Race, survivors: Sequence[Evaluation], other: Evaluation) -> bool:
    """Whether ``other`` leaves the race now: clearly behind the leader (``survivors[0]``)
    and not free to race (its requests all made by the others anyway: the cache answers
    it at no cost, and it stays in)."""
    if not clearly_behind(race, survivors[0], other):
        return False
    share = race.share
    if share is None:
        return True
    others = frozenset().union(*(share.requests(e) for e in survivors if e is not other))
    return not share.requests(other) <= others


def clearly_behind(race: Race, leader: Evaluation, other: Evaluation) -> bool:
    """Whether ``other``'s objective on the window is more than `BEHIND` standard errors
    of the paired difference below ``leader``'s (both on the same positions)."""
    if other is leader:
        return False
    diffs = _paired(race.fresh(leader), race.fresh(other))
    if len(diffs) < 2:
        return False
    # The objective's cost term (score per dollar) is the same on every position.
    cost = (leader.objective - leader.score) - (other.objective - other.score)
    average = sum(diffs) / len(diffs) + cost
    spread = math.sqrt(sum((d - average) ** 2 for d in diffs) / (len(diffs) - 1))
    if not spread:
        return average > 0
    return average > BEHIND * spread / math.sqrt(len(diffs))


def _paired(first: Sequence[float], second: Sequence[float]) -> list[float]:
    """Differences position by position, on the positions both answered."""
    return [a - b for a, b in zip(first, second, strict=False)]
