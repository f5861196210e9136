"""What racing may spend: a share of the search's own evaluations (issue 13, ``racing.
max_share``).

Racing's re-evaluations (`archon_async.search._racing`: the leaders' top-ups during the
search, the final ranking's stages) are paid calls: racing the finalists over 32 passes
cost 8 to 17 times the search's own calls on small searches (bench/RESULTS.md). So a
search that sends calls (an `EngineEvaluator`'s) lets racing spend at most ``max_share``
times what its evaluations spend:

* a leader is topped up only if racing's spend with it, and with the final ranking's
  first stage as it would start now, stays within the share of the evaluations so far;
* the final ranking's first stage always runs (the finalists compared once on questions
  none of them had answered: Archon's final ranking when no leader was topped up), so
  the search always ends with a final ranking; each later stage runs only as far as the
  share allows, cut short when it would go over (the race then ends there).

**Counted in calls as a fresh run sends them**, by the cache's rule (`_sharing`: each
distinct request once a question; a pass ``p`` draws requests of its own; parse retries
aside), computed from what the record holds (the evaluations' questions, the points racing
kept): the same count whatever ran before it in this run or an earlier one, so a resumed
search makes the same decisions (a count of calls sent would not be: work cut by a kill or
a budget stop is redone from the cache, nearly free). On a fresh cache it is what was
sent (the report gives both); a cache that already held answers sends less.

The sampled evaluator (``sampled=True``) sends no call and racing there is not bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any

from ._record import Evaluation
from ._sharing import Names, calls_of
from ._space import Candidate, Space

__all__ = ["RaceShare", "share_of"]

#: One architecture's requests on positions ``start`` to ``stop`` (names, start, stop).
Cover = tuple[frozenset[int], int, int]


class RaceShare:
    """The counts racing is bounded by, and the bound.

    Args:
        space: the space (its models in ranked order).
        max_share: racing's calls at most this many times the evaluations' calls.
        judge_calls: the judge's calls on one answer (pairwise: 2; a rating: 1; none: 0).
        later_turns: turns of a question after the first (MT-Bench: 1).
    """

    def __init__(
        self, space: Space, max_share: float, *, judge_calls: int = 0, later_turns: int = 0
    ) -> None:
        self.space = space
        self.max_share = max_share
        self.judge_calls = judge_calls
        self.later_turns = later_turns
        self._names = Names()
        self._memo: dict[str, frozenset[int]] = {}
        #: Whether the share stopped racing somewhere (a leader not topped up, a stage
        #: cut short or not run).
        self.limited = False

    def requests(self, evaluation: Evaluation) -> frozenset[int]:
        """The distinct requests one question of ``evaluation``'s architecture makes,
        later turns and its judge's included."""
        names = self._memo.get(evaluation.key)
        if names is None:
            candidate = Candidate.from_params(evaluation.params)
            calls = calls_of(self.space, candidate, self._names)
            found = {call.name for call in calls}
            own = [(turn, call.name) for turn in range(1, self.later_turns + 1) for call in calls]
            # A later turn holds that architecture's own conversation: no one shares it.
            found |= {self._names("turn", turn, evaluation.key, name) for turn, name in own}
            answer = calls[-1].name
            found |= {self._names("judge", answer, swap) for swap in range(self.judge_calls)}
            names = self._memo[evaluation.key] = frozenset(found)
        return names

    def evaluation_calls(self, evaluations: Iterable[Evaluation]) -> int:
        """What ``evaluations`` send on their dev questions."""
        return distinct_calls([(self.requests(e), 0, e.questions) for e in evaluations])

    def race_calls(self, evaluations: Sequence[Evaluation], reach: Mapping[str, int]) -> int:
        """What racing sends for ``evaluations`` to reach ``reach[key]`` selection
        positions each (those not in it: none beyond their evaluation)."""
        own = [(self.requests(e), 0, e.questions) for e in evaluations]
        more = [
            (self.requests(e), e.questions, reach[e.key])
            for e in evaluations
            if reach.get(e.key, 0) > e.questions
        ]
        return distinct_calls(own + more) - distinct_calls(own)

    def fits(self, evaluations: Sequence[Evaluation], reach: Mapping[str, int]) -> bool:
        """Whether racing to ``reach`` stays within the share of ``evaluations``' calls."""
        allowed = self.max_share * self.evaluation_calls(evaluations)
        return self.race_calls(evaluations, reach) <= allowed

    def furthest(
        self,
        evaluations: Sequence[Evaluation],
        reach: Callable[[int], Mapping[str, int]],
        low: int,
        high: int,
    ) -> int:
        """The most positions in ``low`` to ``high`` for which ``reach(level)`` fits
        (``low`` when none above it does); racing grows with the level."""
        while low < high:
            middle = (low + high + 1) // 2
            if self.fits(evaluations, reach(middle)):
                low = middle
            else:
                high = middle - 1
        return low

    def summary(
        self, evaluations: Sequence[Evaluation], reach: Mapping[str, int]
    ) -> dict[str, Any]:
        """Racing's spend for report.json: ``calls`` and ``evaluation_calls`` (as a fresh
        run sends them), ``share`` (their ratio), ``max_share``, ``limited``."""
        calls = self.race_calls(evaluations, reach)
        base = self.evaluation_calls(evaluations)
        return {
            "calls": calls,
            "evaluation_calls": base,
            "share": share_of(calls, base),
            "max_share": self.max_share,
            "limited": self.limited,
        }


def share_of(calls: float, base: float) -> float | None:
    """``calls`` over ``base``, rounded (None when ``base`` is 0)."""
    return round(calls / base, 4) if base else None


def distinct_calls(covers: Sequence[Cover]) -> int:
    """The calls of ``covers`` (each request once a position): on each run of positions
    the same architectures answer, the distinct requests among them times its length."""
    edges = sorted({start for _, start, _ in covers} | {stop for _, _, stop in covers})
    total = 0
    for start, stop in pairwise(edges):
        names: set[int] = set()
        for requests, first, last in covers:
            if first <= start and stop <= last:
                names |= requests
        total += len(names) * (stop - start)
    return total
