"""`BudgetGate`: which prompts of a batch may start under its call caps.

A budget alone is checked when a prompt starts, so a batch whose ``concurrency`` prompts all
start at once would overshoot a call cap by up to ``concurrency`` whole prompts (64 prompts
of 12 calls against ``--max-calls 100``). The gate counts what the prompts in flight are
still bound to make: a prompt starts only if the calls it makes at the least (the estimate's
low end: no parse retry, no failed call) fit in what the caps leave once the prompts in
flight have made theirs. The overshoot is then only the calls a prompt makes beyond its
least (parse retries, failed calls). With a response cache a prompt may cost no call: the
gate reserves nothing then, and the budgets' own checks apply.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._exceptions import BudgetExceededError
from ._types import CallRecord
from .callpath import Budget

__all__ = ["BudgetGate"]


class BudgetGate:
    """Admits a batch's prompts under the call caps of ``budgets``.

    Args:
        budgets: every budget the batch's calls are charged to.
        least_calls: the calls one run of the architecture makes at the least (0: reserve
            nothing).
    """

    def __init__(self, budgets: Sequence[Budget], least_calls: int) -> None:
        self._budgets = [budget for budget in budgets if budget.is_capped]
        self._least = least_calls
        self._in_flight: dict[int, tuple[int, list[CallRecord]]] = {}

    def __bool__(self) -> bool:
        return bool(self._budgets)

    def admit(self, made: list[CallRecord], *, runs: int = 1) -> None:
        """Let a prompt of ``runs`` runs (turns) start, its calls to be listed in ``made``.

        Raises:
            BudgetExceededError: a cap is reached, or leaves no room for this prompt's
                least calls beside those the prompts in flight are still bound to make.
        """
        least = self._least * runs
        due = sum(
            max(reserved - sum(not call.cached for call in calls), 0)
            for reserved, calls in self._in_flight.values()
        )
        for budget in self._budgets:
            budget.check()
            cap = budget.max_calls
            if cap is None or least == 0:
                continue
            spent = budget.spent().calls
            if spent + due + least > cap:
                error = BudgetExceededError(
                    f"the budget of {cap} calls has no room for another prompt ({spent} "
                    f"made, {due} more due from the prompts in flight, and a prompt makes "
                    f"at least {least})"
                )
                error.budget = budget
                raise error
        self._in_flight[id(made)] = (least, made)

    def release(self, made: list[CallRecord]) -> None:
        """The prompt whose calls are listed in ``made`` has ended."""
        self._in_flight.pop(id(made), None)

    def reason(self, budget: Budget) -> str:
        """Why ``budget`` stopped the batch, in its final figures (once nothing is in
        flight)."""
        reached = budget.exceeded()
        if reached is not None or budget.max_calls is None:
            return reached or "a cap of the budget is reached"
        return (
            f"the budget of {budget.max_calls} calls has no room for another prompt "
            f"({budget.spent().calls} made; a prompt makes at least {self._least})"
        )
