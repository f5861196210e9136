"""`BudgetGate`: which prompts of a batch may start under its caps.

A budget alone is checked when a prompt starts, so a batch whose ``concurrency`` prompts all
start at once would overshoot a cap by up to ``concurrency`` whole prompts (64 prompts of 12
calls against ``--max-calls 100``). The gate counts what the prompts in flight are still
bound to spend, and starts a prompt only if its own share fits beside that:

* calls: a prompt makes at least `least_calls` (its generators' and fusers' samples, its
  critics', test generators' and rankers' calls), known before it starts, so a prompt that
  cannot fit is refused at once and the batch stops; the overshoot is only the calls beyond
  a prompt's least;
* tokens and dollars: a prompt's share is the average of the batch's finished prompts that
  sent a call (per run: a turn of a multi-turn prompt is a run; one answered wholly from
  the cache cost nothing and is left out). Until one has finished, prompts start one at a
  time; a prompt that does not fit waits for the prompts in flight, and is refused
  (the batch stops) once none is left and it still does not fit.

With a response cache a prompt may cost nothing, or less than its least: its cache hits count
as calls of its least already made (free), and a prompt that does not fit waits for the
prompts in flight (their hits may leave room) instead of stopping the batch at once. So a
cached rerun under ``--max-calls`` answers every cached prompt, a few at a time, and a
partly cached batch still stops within the cap. Only a per-call budget (a search's, which
holds every call itself) makes the gate reserve nothing under a cache.

Batches that share a budget (a call path's, or one `Budget` given to several) count the
calls, tokens and dollars every one of their prompts in flight is still due to spend, each
gate its own and the others' (`_GATES`, each batch's prompts at its own share), as one
batch counts its prompts. Such batches may run on other threads' loops (an engine or a call
path shared by threads): every gate's state that another reads, and `_GATES` itself, change
and are read under one lock (`_LOCK`), so a prompt's admission (look at everything in flight,
then add itself) never interleaves with another thread's. A prompt waiting for room is woken
when a prompt of any gate sharing its budget ends, on its own loop (`_wake`), not by polling.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Literal, TypeVar

from ._architecture import Architecture, is_reward_model
from ._exceptions import BudgetExceededError
from ._pricing import usd_text
from ._trace import call_sink
from ._types import CallRecord
from .callpath import Budget

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["BudgetGate", "budget_gate", "least_calls"]

_T = TypeVar("_T")

_Cap = Literal["calls", "tokens", "cost"]

#: The gates admitting prompts under each budget, so that batches sharing one count each
#: other's prompts in flight (each alone started prompts the others' left no room for).
#: Plain weak references, pruned as gates are added: a WeakSet's own removals (run by the
#: garbage collector on any thread) would change it outside `_LOCK`.
_GATES: weakref.WeakKeyDictionary[Budget, list[weakref.ref[BudgetGate]]] = (
    weakref.WeakKeyDictionary()
)

#: Held to read or change `_GATES` and what a gate's peers read of it (its prompts in flight,
#: its finished prompts' spend): a prompt is admitted in one step under it. Never held
#: across an await; a budget's own lock may be taken inside it, never the other way round.
_LOCK = threading.Lock()


class BudgetGate:
    """Admits a batch's prompts under the caps of ``budgets``.

    Args:
        budgets: every budget the batch's calls are charged to.
        least_calls: the calls one run of the architecture makes at the least; 0: the gate
            reserves nothing.
        cached: the calls go through a response cache (a prompt may cost less than its
            least, so one that does not fit waits for the prompts in flight).
        charged_at_end: the one of ``budgets`` charged a prompt's calls when the prompt ends
            (a batch's own), not as each call ends (an engine's, a call path's).
    """

    def __init__(
        self,
        budgets: Sequence[Budget],
        least_calls: int,
        *,
        cached: bool = False,
        charged_at_end: Budget | None = None,
    ) -> None:
        self._budgets = [budget for budget in budgets if budget.is_capped]
        self._charged_at_end = charged_at_end
        self._least = least_calls
        self._cached = cached
        self._in_flight: dict[int, tuple[int, list[CallRecord]]] = {}  # runs, calls so far
        self._runs_done = 0
        self._tokens_done = 0
        self._cost_done = [0.0] * len(self._budgets)
        self._waiting: list[asyncio.Future[None]] = []  # prompts waiting for room, any loop
        self._refused: tuple[Budget, _Cap] | None = None
        with _LOCK:
            for budget in self._budgets:
                gates = [ref for ref in _GATES.get(budget, ()) if ref() is not None]
                gates.append(weakref.ref(self))
                _GATES[budget] = gates

    def __bool__(self) -> bool:
        return bool(self._budgets)

    async def admit(self, made: list[CallRecord], *, runs: int = 1) -> None:
        """Let a prompt of ``runs`` runs start (its calls to be listed in ``made``), once
        its share fits; waits for the prompts in flight while it may yet fit.

        Raises:
            BudgetExceededError: a cap is reached, or will not leave room for this prompt.
        """
        while True:
            with _LOCK:
                refusal = self._refusal(runs)
                if refusal is None:
                    self._in_flight[id(made)] = (runs, made)
                    return
                budget, cap, certain = refusal
                if certain or not (self._in_flight or self._others_in_flight()):
                    self._refused = (budget, cap)
                    error = BudgetExceededError(self._reason(budget))
                    error.budget = budget
                    raise error
                # Woken when a prompt of any gate sharing a budget ends (`release`).
                woken = asyncio.get_running_loop().create_future()
                self._waiting.append(woken)
            try:
                await woken
            finally:
                with _LOCK:
                    if woken in self._waiting:  # cancelled before a release woke it
                        self._waiting.remove(woken)

    async def run(self, start: Callable[[], Awaitable[_T]]) -> _T:
        """Admit one prompt of one run (`admit`), await ``start()`` for it with its calls
        listed through `call_sink`, then `release` it: what `Engine.generate` does for a
        prompt of its own, as a batch does for each of its prompts.

        Raises:
            BudgetExceededError: the prompt does not fit (see `admit`); nothing was sent.
        """
        made: list[CallRecord] = []
        try:
            await self.admit(made)
        except BudgetExceededError as exc:
            error = BudgetExceededError(
                f"{exc}: no new prompt starts on it; give a budget with room left to go on"
            )
            error.budget = exc.budget
            raise error from None
        sink = call_sink.set(made)
        try:
            return await start()
        finally:
            call_sink.reset(sink)
            self.release(made)

    def release(self, made: list[CallRecord]) -> None:
        """The prompt whose calls are listed in ``made`` has ended: learn its spend."""
        sent = [call for call in made if not call.cached]
        costs = [budget.cost_of(sent) for budget in self._budgets]
        with _LOCK:
            entry = self._in_flight.pop(id(made), None)
            if entry is None:
                return
            if sent:
                # A prompt answered wholly from the cache says nothing of what one that
                # sends costs: averaged in at 0, it let every worker start one that sends.
                self._runs_done += entry[0]
                self._tokens_done += int(_tokens(sent))
                for index, cost in enumerate(costs):
                    self._cost_done[index] += cost
            waiting = self._take_waiting()
        _wake(waiting)

    def reason(self, budget: Budget) -> str:
        """Why ``budget`` stops the batch, in the figures of now."""
        with _LOCK:
            return self._reason(budget)

    def _reason(self, budget: Budget) -> str:
        """`reason`, with `_LOCK` held."""
        reached = budget.exceeded()
        if reached is not None:
            return reached
        spent = budget.spent()
        cap = self._refused[1] if self._refused and self._refused[0] is budget else "calls"
        share = self._counted_share(budget, cap) if cap != "calls" else None
        if cap == "tokens":
            return (
                f"the budget of {budget.max_tokens} tokens has no room for another prompt "
                f"({spent.tokens} used; a prompt has used about {share or 0:.0f})"
            )
        if cap == "cost":
            return (
                f"the budget of ${budget.max_cost_usd:g} has no room for another prompt "
                f"(about {usd_text(spent.cost_usd)} spent; a prompt has cost about "
                f"{usd_text(share or 0.0)})"
            )
        return (
            f"the budget of {budget.max_calls} calls has no room for another prompt "
            f"({spent.calls} made; a prompt makes at least {self._least})"
        )

    def _refusal(self, runs: int) -> tuple[Budget, _Cap, bool] | None:
        """The first cap with no room for a prompt of ``runs`` runs, and whether that is
        certain (waiting for the prompts in flight cannot make room). With `_LOCK` held, as
        every method below that reads another gate."""
        if self._least == 0:
            for budget in self._budgets:
                if budget.exceeded() is not None:
                    return budget, "calls", True
            return None
        for budget in self._budgets:
            if budget.exceeded() is not None:
                return budget, "calls", True
            calls, tokens, cost = self._spent(budget)
            if budget.max_calls is not None:
                due = sum(gate._due_calls() for gate in self._sharing(budget))
                if calls + due + self._least * runs > budget.max_calls:
                    # Under a cache, the prompts in flight may yet leave room (their hits).
                    return budget, "calls", not self._cached
            if budget.max_tokens is not None and not self._fits(
                budget, "tokens", tokens, budget.max_tokens, runs
            ):
                return budget, "tokens", False
            if budget.max_cost_usd is not None and not self._fits(
                budget, "cost", cost, budget.max_cost_usd, runs
            ):
                return budget, "cost", False
        return None

    def _others_in_flight(self) -> bool:
        """Whether a batch sharing one of this gate's budgets has a prompt in flight."""
        return any(
            gate is not self and gate._in_flight
            for budget in self._budgets
            for gate in self._sharing(budget)
        )

    def _take_waiting(self) -> list[asyncio.Future[None]]:
        """The prompts waiting for room on every gate sharing a budget with this one (their
        lists emptied): a prompt of this gate ended, so each may fit now."""
        waiting: list[asyncio.Future[None]] = []
        for budget in self._budgets:
            for gate in self._sharing(budget):
                waiting += gate._waiting
                gate._waiting = []
        return waiting

    def _flights(self) -> list[tuple[int, list[CallRecord]]]:
        """The prompts in flight (runs, calls so far; each list may grow as the prompt's
        calls end, on its own loop)."""
        return list(self._in_flight.values())

    def _sharing(self, budget: Budget) -> list[BudgetGate]:
        """The gates of the batches admitting prompts under ``budget``, this one included."""
        gates = [gate for ref in _GATES.get(budget, ()) if (gate := ref()) is not None]
        return gates or [self]

    def _due_calls(self) -> int:
        """The calls this gate's prompts in flight are still bound to make: each its least,
        less the calls it made (sent, or a free hit: one of its least done)."""
        return sum(max(self._least * n - len(made), 0) for n, made in self._flights())

    def _spent(self, budget: Budget) -> tuple[float, float, float]:
        """The calls, tokens and dollars ``budget`` has spent, with the calls the prompts in
        flight made where it is charged only when a prompt ends (``charged_at_end``, by
        this batch or another sharing it): the calls still due are counted from what each
        prompt made, so those must be in."""
        spent = budget.spent()
        calls, tokens, cost = float(spent.calls), float(spent.tokens), spent.cost_usd
        for gate in self._sharing(budget):
            if budget is not gate._charged_at_end:
                continue
            for _, made in gate._flights():
                sent = [call for call in made if not call.cached]
                calls += len(sent)
                tokens += _tokens(sent)
                cost += budget.cost_of(sent)
        return calls, tokens, cost

    def _fits(self, budget: Budget, cap: _Cap, spent: float, limit: float, runs: int) -> bool:
        """Whether a prompt of ``runs`` runs fits under ``budget``'s ``cap`` (tokens or
        cost) beside what the prompts in flight of every batch sharing it are still due to
        spend, each batch's at its own share (its architecture's, from its finished
        prompts). A batch whose share is not known yet (none of its prompts finished) runs
        one prompt at a time, counted at the largest share known on the budget (if any),
        and the others wait for it (its spend is unknown)."""
        due, known = 0.0, []
        for gate in self._sharing(budget):
            share = gate._share(budget, cap)
            if share is None:
                if gate._in_flight:
                    return False
                continue
            known.append(share)
            measure = budget.cost_of if cap == "cost" else _tokens
            due += sum(max(share * n - measure(made), 0.0) for n, made in gate._flights())
        share = self._share(budget, cap)
        if share is None:  # this batch's first prompt
            if not known:
                return spent + due < limit  # nothing to go by: where room is left
            share = max(known)  # a guess from the others' prompts, the largest
        return spent + due + share * runs <= limit

    def _counted_share(self, budget: Budget, cap: _Cap) -> float | None:
        """The tokens or dollars a prompt of this batch is counted at (`_fits`): its own
        share, else the largest known on the budget (None: none known)."""
        own = self._share(budget, cap)
        if own is not None:
            return own
        known = [gate._share(budget, cap) for gate in self._sharing(budget)]
        return max((share for share in known if share is not None), default=None)

    def _share(self, budget: Budget, cap: _Cap) -> float | None:
        """The tokens or dollars (``cap``) a run of this batch's prompts spends under
        ``budget``, on average over those finished; None before one has."""
        if not self._runs_done:
            return None
        if cap == "cost":
            return self._cost_done[self._budgets.index(budget)] / self._runs_done
        return self._tokens_done / self._runs_done


def _wake(waiting: Sequence[asyncio.Future[None]]) -> None:
    """Wake each prompt waiting for room, on its own loop (another thread's, through
    ``call_soon_threadsafe``); one whose loop has closed waits no more."""
    if not waiting:
        return
    try:
        here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        here = None
    for woken in waiting:
        loop = woken.get_loop()
        if loop is here:
            _set(woken)
            continue
        try:
            loop.call_soon_threadsafe(_set, woken)
        except RuntimeError:  # its loop is closed
            pass


def _set(woken: asyncio.Future[None]) -> None:
    if not woken.done():  # not cancelled meanwhile
        woken.set_result(None)


def _tokens(calls: Sequence[CallRecord]) -> float:
    return float(sum(c.input_tokens + c.output_tokens for c in calls if not c.cached))


def budget_gate(engine: Engine, budget: Budget | None = None) -> BudgetGate:
    """The gate of ``engine``'s prompts under every budget their calls are charged to:
    ``budget`` (a batch's own, charged as each prompt ends), the engine's and its call
    path's (charged as each call ends). A batch's prompts and `Engine.generate`'s own go
    through the same rule: a prompt starts only if its least fits (see the module's)."""
    budgets = [b for b in (budget, engine.budget, engine.callpath.budget) if b is not None]
    cached = engine.callpath.cache is not None
    if not budgets or (cached and any(b.per_call for b in budgets)):
        return BudgetGate(budgets, 0)  # a per-call cap holds each call; a hit costs none
    return BudgetGate(
        budgets, least_calls(engine.architecture), cached=cached, charged_at_end=budget
    )


def least_calls(architecture: Architecture) -> int:
    """The calls one answered run of ``architecture`` makes at the least, if every call
    succeeds: each generator's and fuser's samples, each critic's and unit-test generator's
    call, and an LLM ranker's call when the layer before leaves it two candidates or more
    (it orders one without a call). Other components count 0 (a verifier's ``first_k``
    stops early, a custom component is unknown), and so do the rankers after them, whose
    candidates are then unknown: a floor, never above what such a run makes.
    """
    total, candidates = 0, 0
    for layer in architecture.layers:
        written: int | None = 0  # candidates this layer leaves; None: not known
        writes = False
        for spec in layer:
            if spec.type in ("critic", "unit_test_generator"):
                total += 1  # one call; it writes critiques or tests, not candidates
                continue
            writes = True
            if spec.type in ("generator", "fuser"):
                total += spec.samples
                kept: int | None = spec.samples
            elif spec.type == "ranker":
                total += int(candidates >= 2 and not is_reward_model(spec))
                kept = None if spec.top_k is None else min(spec.top_k, candidates)
            else:
                kept = None
            written = None if written is None or kept is None else written + kept
        if writes:
            candidates = written or 0
    return total
