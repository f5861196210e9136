"""A search's budget as it runs: the hard cap the call path enforces, what every run of
the search sent (the record, the spend journal and this run's call path), which cap
stopped it, and its wall time.

Every read of the clock for the wall-time budget is here (`Spending.start`,
`Spending.elapsed`, `Spending.over_budget`, `Spending.check_wall_time`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .._exceptions import ConfigError
from .._pricing import usd, usd_text
from .._progress import BatchStats
from ._load import validation_error
from ._record import RunRecord, read_run_file
from ._settings import Budget
from ._spend import SPEND_JOURNAL, add_by_model, by_model

if TYPE_CHECKING:
    from ._run import Search

__all__ = ["Spending", "WallTimeUp", "search_budget", "spent_before", "spent_earlier"]


class WallTimeUp(Exception):
    """The wall-time budget passed before a final-stage scoring started."""


class Spending:
    """The spend of one `Search` against its budget (``search.budget``), over every run of
    the search: this run's call path (``search.callpath``) plus what the record says
    earlier runs sent."""

    def __init__(self, search: Search) -> None:
        self.search = search
        #: The hard cap on calls, tokens and dollars the call path enforces (see `hard_cap`).
        self.cap: Any = None
        #: Calls, tokens and dollars earlier runs of this search sent (see `spent_before`).
        self.before = (0, 0, 0.0)
        #: When this run started (monotonic seconds).
        self.started = 0.0
        #: When the wall-time budget ends (monotonic seconds; None: no such budget).
        self.deadline: float | None = None

    def start(self) -> None:
        """A run starts its clock (the wall-time budget counts from here)."""
        budget = self.search.budget
        self.started = time.monotonic()
        self.deadline = self.started + budget.wall_time_s if budget.wall_time_s else None

    def elapsed(self) -> float:
        """Seconds since this run started, rounded to the millisecond."""
        return round(time.monotonic() - self.started, 3)

    def hard_cap(self) -> Any:
        """The call path's budget for the calls, tokens and dollars caps, less what the
        record says earlier runs of this search spent: checked before every call, so the
        calls never go over and tokens and dollars by at most the calls in flight."""
        from ..callpath import Budget as CallBudget

        budget = self.search.budget
        if budget.calls is None and budget.tokens is None and budget.dollars is None:
            return None
        calls, tokens, dollars = self.before

        def left(cap: float | None, used: float) -> Any:
            return None if cap is None else max(0, cap - used)

        self.cap = CallBudget(
            max_calls=left(budget.calls, calls),
            max_tokens=left(budget.tokens, tokens),
            max_cost_usd=left(budget.dollars, dollars),
            per_call=True,
        )
        return self.cap

    def check_wall_time(self) -> None:
        """Start no new final-stage scoring once the wall-time budget is spent (one can
        take longer than the whole search: every final-ranking question, for each of the
        best architectures); the one in flight finishes, as in the search.

        Raises:
            WallTimeUp: the budget's ``wall_time_s`` has passed.
        """
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise WallTimeUp

    def save_outside(self, record: RunRecord, before: dict[str, Any], outside: BatchStats) -> None:
        """Keep the spend of no evaluation (``outside_spend.json``): what earlier runs of
        this search spent (``before``) plus this run's (``outside``), so a resumed search
        counts it all."""
        spend: dict[str, Any] = {}
        add_by_model(spend, before)
        add_by_model(spend, by_model(outside))
        record.save_json("outside_spend.json", spend)

    def save_spent(self, record: RunRecord) -> None:
        """What every run of this search sent so far (``spent.json``: the budget's base
        when it resumes)."""
        record.save_json("spent.json", self.spent_so_far())

    def sent(self) -> dict[str, Any]:
        """What this run of the search sent to the provider, ranking and judge included
        (cache hits apart: they cost nothing)."""
        callpath = self.search.callpath
        if callpath is None:
            return {"calls": 0, "cache_hits": 0, "tokens": 0, "dollars": 0.0}
        spent = callpath.spent()
        return {
            "calls": spent.calls,
            "requests": spent.requests,  # as the provider counts them (n samples: one)
            "retries": spent.retries,
            "cache_hits": spent.cache_hits,
            "input_tokens": spent.input_tokens,
            "output_tokens": spent.output_tokens,
            "tokens": spent.tokens,
            "dollars": usd(spent.cost_usd),
        }

    def spent_so_far(self) -> dict[str, Any]:
        """Calls, tokens and dollars every run of this search sent so far, as its budget
        counts them (what progress shows: a resumed search goes on from its earlier runs)."""
        sent = self.sent()
        calls, tokens, dollars = self.before
        return {
            "calls": calls + sent["calls"],
            "tokens": tokens + sent["tokens"],
            "dollars": usd(dollars + sent["dollars"]),
        }

    def cap_reached(self) -> str:
        """Why the hard cap stopped the search (a call was refused), or ''."""
        cap = self.cap
        if cap is None or cap.refused_at is None:
            return ""
        return self.cap_reason()

    def cap_reason(self) -> str:
        """Which of the search's caps on calls, tokens and dollars is spent, over every run
        of the search (e.g. ``budget: calls (150 of 150 sent)``)."""
        sent = self.sent()
        before = dict(zip(("calls", "tokens", "dollars"), self.before, strict=True))
        for name in ("calls", "tokens", "dollars"):
            cap = getattr(self.search.budget, name)
            used = before[name] + sent[name]
            if cap is not None and used >= cap:
                said = usd_text if name == "dollars" else "{:,.0f}".format
                return f"budget: {name} ({said(used)} of {said(cap)} sent)"
        return "budget: calls (the rest are in flight)"

    def over_budget(self, record: RunRecord) -> str:
        """Why no new batch may start, or ''."""
        if self.cap is not None and self.cap.exceeded():
            return self.cap_reason()
        spent = record.evaluations.values()
        budget = self.search.budget
        checks = (
            (budget.calls, sum(e.calls for e in spent), "calls"),
            (budget.tokens, sum(e.tokens for e in spent), "tokens"),
            (budget.dollars, sum(e.dollars for e in spent), "dollars"),
            (budget.wall_time_s, time.monotonic() - self.started, "wall_time_s"),
        )
        for cap, used, name in checks:
            if cap is not None and used >= cap:
                return f"budget: {name}"
        return ""


def spent_before(record: RunRecord) -> tuple[int, int, float]:
    """What earlier runs of a search sent: the spend journal (written before each request,
    so it holds what a killed run sent) or ``spent.json`` (saved between steps; it alone
    holds the runs made before there was a journal), the larger of each, else the
    evaluations' spend."""
    from ..callpath import SpendJournal

    held = record.load_json("spent.json")
    journal = SpendJournal.totals(record.run_dir / SPEND_JOURNAL)
    if held is not None or journal is not None:
        saved = (0, 0, 0.0) if held is None else (held["calls"], held["tokens"], held["dollars"])
        logged = (
            (0, 0, 0.0) if journal is None else (journal.calls, journal.tokens, journal.cost_usd)
        )
        return (
            int(max(saved[0], logged[0])),
            int(max(saved[1], logged[1])),
            float(max(saved[2], logged[2])),
        )
    spent = record.evaluations.values()
    return (
        sum(e.calls for e in spent),
        sum(e.tokens for e in spent),
        sum(e.dollars for e in spent),
    )


def spent_earlier(run_dir: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """What earlier runs of the search of ``identity`` sent (None when ``run_dir`` holds
    no run of it); reads only, so an estimate writes nothing."""
    from ..callpath import SpendJournal

    meta = run_dir / "search.json"
    if not meta.exists() or read_run_file(meta) != identity:
        return None
    totals = SpendJournal.totals(run_dir / SPEND_JOURNAL)
    if totals is None:
        return None
    return {"calls": totals.calls, "tokens": totals.tokens, "dollars": usd(totals.cost_usd)}


def search_budget(budget: Any, source: str) -> Budget | None:
    """The search's caps from a search `Budget`, an engine `archon_async.Budget` (its
    max_calls, max_tokens and max_cost_usd read as calls, tokens and dollars) or a dict.

    Raises:
        ConfigError: a cap out of range, or a value that is no budget.
    """
    from ..callpath import Budget as EngineBudget

    if budget is None or isinstance(budget, Budget):
        return budget
    if isinstance(budget, EngineBudget):
        budget = {
            "calls": budget.max_calls,
            "tokens": budget.max_tokens,
            "dollars": budget.max_cost_usd,
        }
    if not isinstance(budget, dict):
        raise ConfigError(
            f"budget must be an archon_async.search.Budget, an archon_async.Budget or a dict, "
            f"not {type(budget).__name__}"
        )
    try:
        return Budget.model_validate(budget)
    except ValidationError as exc:
        raise validation_error(exc, source, Budget, ("budget",)) from None
