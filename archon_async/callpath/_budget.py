"""`Budget`: caps on provider calls, tokens and estimated dollars.

A budget is checked when a prompt *starts* (`Engine.generate`, each prompt of a batch) and
charged when a call *ends*: a prompt starts only if its share fits beside what the prompts
in flight are still due to spend (`archon_async._batch_budget`, one rule for both), so once
a cap is reached no new prompt starts, the prompts in flight finish, and a run overshoots
by at most their calls beyond their least (parse retries, failed calls).
Cache hits are free (they cost no call, token or dollar) and are counted apart. Failed calls
count: they were sent. One budget may be given to a `CallPath` (everything on it), to an
`Engine`, or to a batch; it is safe to share between threads.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .._exceptions import BudgetExceededError, ConfigError, InvalidInputError
from .._pricing import DEFAULT_PRICES, cost_usd, usd_text
from .._types import CallRecord

__all__ = ["Budget", "BudgetSnapshot", "Spend", "checked_budget", "unpriced_models"]


def checked_budget(budget: object, where: str) -> Budget | None:
    """``budget`` if it is a `Budget` or None.

    Raises:
        InvalidInputError: anything else (a number where ``Budget(max_calls=...)`` was
            meant), naming ``where`` (e.g. ``"Engine(budget=...)"``).
    """
    if budget is None or isinstance(budget, Budget):
        return budget
    raise InvalidInputError(
        f"{where} takes a Budget or None, not {type(budget).__name__} {budget!r}: pass e.g. "
        "Budget(max_calls=100)"
    )


def unpriced_models(
    architecture: Any, prices: Mapping[str, tuple[float, float]] = DEFAULT_PRICES
) -> list[str]:
    """The models ``architecture`` (an `Architecture`) calls that have no price in
    ``prices`` (sorted, once each): a dollar cap could never stop their calls. What
    `Budget.refuse_unpriced` and the command line's ``--max-cost`` check each word in their
    own terms.
    """
    from ._estimate import estimate  # only for a cost cap: estimate imports a lot

    # The estimate's walk, not a list of the specs' models: a model named only by a
    # component that makes no chat call (a reward-model ranker) is not billed per token.
    return sorted(estimate(architecture, ["?"], prices=prices).unpriced_models)


@dataclass(frozen=True, slots=True)
class Spend:
    """Calls, tokens and dollars added up: what a budget's snapshot and a spend journal's
    totals have in common.

    Attributes:
        calls: provider calls (failed ones included; each with its retries is one call).
        input_tokens: prompt tokens counted by the providers.
        output_tokens: completion tokens counted by the providers.
        cost_usd: estimated dollars at list prices (unpriced models count 0).
    """

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def tokens(self) -> int:
        """Tokens in and out."""
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class BudgetSnapshot(Spend):
    """What was spent against a budget: a `Spend` (calls, input_tokens, output_tokens,
    cost_usd, tokens), and:

    Attributes:
        cache_hits: calls answered from the response cache (free).
        unpriced_models: models with no known price, whose tokens cost 0 here.
        requests: HTTP requests the calls were sent in (a request of ``n`` samples is one),
            first attempts only: what a requests-per-minute limit counts.
        retries: attempts sent again after a failure (429, 5xx, timeouts...), apart.
    """

    cache_hits: int = 0
    unpriced_models: tuple[str, ...] = ()
    requests: int = 0
    retries: int = 0


class Budget:
    """Caps on calls, tokens (in + out) and estimated cost in USD; None means no cap.

    Args:
        max_calls: provider calls allowed.
        max_tokens: tokens (prompt + completion) allowed.
        max_cost_usd: estimated dollars allowed, at ``prices`` (USD per million tokens,
            input and output; `archon_async._pricing.DEFAULT_PRICES` by default).
        per_call: a hard cap, also checked before every call a `CallPath` sends: a call is
            sent only while the calls sent and in flight are under ``max_calls`` and the
            tokens and dollars spent under theirs. Calls never go over their cap; tokens and
            dollars by at most what the calls in flight spend. The prompts in flight then
            meet `BudgetExceededError` at their next call (``refused_at`` says when the
            first was refused), so their results are partial: a search discards them.

    A ``max_cost_usd`` cannot cap calls to a model with no price in ``prices`` (they cost
    it nothing): an `Engine` refuses such a budget for an architecture calling one
    (`refuse_unpriced`), as the command line refuses ``--max-cost``.

    Raises:
        InvalidInputError: a cap is negative, NaN, infinite, a bool, or (calls and
            tokens) not a whole number.
    """

    def __init__(
        self,
        *,
        max_calls: int | None = None,
        max_tokens: int | None = None,
        max_cost_usd: float | None = None,
        prices: Mapping[str, tuple[float, float]] = DEFAULT_PRICES,
        per_call: bool = False,
    ) -> None:
        for name, value, kinds, what in (
            ("max_calls", max_calls, int, "a whole number"),
            ("max_tokens", max_tokens, int, "a whole number"),
            ("max_cost_usd", max_cost_usd, (int, float), "a finite number"),
        ):
            if value is None:
                continue
            # NaN compares false with everything: it would never stop, nor say a sane cap;
            # True is an int to Python, never a cap anyone meant.
            if isinstance(value, bool) or not isinstance(value, kinds) or not 0 <= value < math.inf:
                raise InvalidInputError(
                    f"Budget: {name} must be {what}, 0 or more (None: no cap), got {value!r}"
                )
        self.max_calls = max_calls
        self.max_tokens = max_tokens
        self.max_cost_usd = max_cost_usd
        self._prices = prices
        self._lock = threading.Lock()
        self._calls = 0
        self._input = 0
        self._output = 0
        self._cost = 0.0
        self._hits = 0
        self._requests = 0
        self._retries = 0
        self._unpriced: set[str] = set()
        self.per_call = per_call
        self._held = 0  # calls reserved by `reserve` and not yet released
        #: `time.monotonic()` of the first call `reserve` refused (None: none yet).
        self.refused_at: float | None = None

    def __repr__(self) -> str:
        return (
            f"Budget(max_calls={self.max_calls}, max_tokens={self.max_tokens}, "
            f"max_cost_usd={self.max_cost_usd}, spent={self.spent()})"
        )

    def refuse_unpriced(self, architecture: Any, where: str) -> None:
        """Refuse, before any call, a ``max_cost_usd`` that could never stop
        ``architecture`` (an `Architecture`): some model it calls has no price here.

        Raises:
            ConfigError: naming ``where``, the unpriced models and what caps them instead.
        """
        if self.max_cost_usd is None:
            return
        unpriced = unpriced_models(architecture, self._prices)
        if unpriced:
            raise ConfigError(
                f"{where}: max_cost_usd={self.max_cost_usd:g} cannot cap "
                f"{architecture.name!r}: {', '.join(unpriced)} "
                f"{'has' if len(unpriced) == 1 else 'have'} no price in the budget's prices, "
                "so its calls cost the budget nothing; give Budget(prices={model: (input, "
                "output USD per million tokens)}) or cap with max_calls or max_tokens"
            )

    @property
    def is_capped(self) -> bool:
        """Whether any cap is set."""
        return (self.max_calls, self.max_tokens, self.max_cost_usd) != (None, None, None)

    def charge(self, record: CallRecord) -> None:
        """Count one provider call (a cache hit is counted by `hit` instead)."""
        price = cost_usd(record.model, record.input_tokens, record.output_tokens, self._prices)
        with self._lock:
            self._calls += 1
            self._requests += not record.batched
            self._retries += record.retries
            self._input += record.input_tokens
            self._output += record.output_tokens
            if price is None:
                self._unpriced.add(record.model)
            else:
                self._cost += price

    def cost_of(self, records: Iterable[CallRecord]) -> float:
        """The estimated dollars of some calls at this budget's prices (cache hits and
        unpriced models count 0)."""
        total = 0.0
        for record in records:
            if not record.cached:
                price = cost_usd(
                    record.model, record.input_tokens, record.output_tokens, self._prices
                )
                total += price or 0.0
        return total

    def charge_all(self, records: Iterable[CallRecord]) -> None:
        """Count the calls of a finished prompt (cache hits as hits)."""
        hits = 0  # counted at once: a cached prompt's 12 hits took the lock 12 times
        for record in records:
            if record.cached:
                hits += 1
            else:
                self.charge(record)
        if hits:
            self.hit(hits)

    def hit(self, count: int = 1) -> None:
        """Count ``count`` calls answered from the cache (free)."""
        with self._lock:
            self._hits += count

    def spent(self) -> BudgetSnapshot:
        """What was spent so far."""
        with self._lock:
            return BudgetSnapshot(
                self._calls,
                self._input,
                self._output,
                self._cost,
                self._hits,
                tuple(sorted(self._unpriced)),
                self._requests,
                self._retries,
            )

    def reserve(self, calls: int = 1) -> None:
        """Hold room for a call of ``calls`` samples about to be sent (``per_call``).

        Raises:
            BudgetExceededError: the calls sent and in flight would go over ``max_calls``,
                or the tokens or dollars spent reached their cap; no call is sent.
        """
        reason = self._tokens_or_dollars()
        with self._lock:
            made = self._calls + self._held
            if reason is None and self.max_calls is not None and made + calls > self.max_calls:
                reason = f"the budget of {self.max_calls} calls is spent or in flight"
            if reason is None:
                self._held += calls
                return
            if self.refused_at is None:
                self.refused_at = time.monotonic()
        error = BudgetExceededError(f"{reason}: no new call is sent")
        error.budget = self
        raise error

    def release(self, calls: int = 1) -> None:
        """Give back what `reserve` held, once the call is charged (or failed unsent)."""
        with self._lock:
            self._held -= calls

    def exceeded(self) -> str | None:
        """Which cap is reached, as a sentence, or None while every cap has room (calls
        reserved by `reserve` count as made)."""
        spent = self.spent()
        with self._lock:
            held = self._held
        if self.max_calls is not None and spent.calls + held >= self.max_calls:
            return f"the budget of {self.max_calls} calls is spent ({spent.calls} made)"
        return self._tokens_or_dollars(spent)

    def _tokens_or_dollars(self, spent: BudgetSnapshot | None = None) -> str | None:
        """Which of the tokens and dollars caps ``spent`` (now, if None) reached."""
        if spent is None:
            spent = self.spent()
        if self.max_tokens is not None and spent.tokens >= self.max_tokens:
            return f"the budget of {self.max_tokens} tokens is spent ({spent.tokens} used)"
        if self.max_cost_usd is not None and spent.cost_usd >= self.max_cost_usd:
            return (
                f"the budget of ${self.max_cost_usd:g} is spent "
                f"(about {usd_text(spent.cost_usd)} at list prices)"
            )
        return None

    def check(self) -> None:
        """Raise if a cap is reached: what a new prompt calls before it starts.

        Raises:
            BudgetExceededError: a cap is reached; its message says which and how much.
        """
        reason = self.exceeded()
        if reason is not None:
            error = BudgetExceededError(
                f"{reason}: no new prompt starts on it; give a budget with room left to go on"
            )
            error.budget = self
            raise error
