"""What an architecture costs per query, apart from what the search actually sent.

Two numbers, never mixed: an architecture's cost per query is what running it alone would
cost, its cache hits counted at the tokens their replies cost when first drawn, so that it
does not depend on which architectures ran before it (a Pareto front of cost against score
compares architectures, not the order of the search); the spend is what was sent, where a
cache hit costs nothing. Dollars are list prices (`archon_async._pricing`); a model with no
price is named (``unpriced_models``), never silently counted as $0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from .._pricing import DEFAULT_PRICES, cost_usd, usd
from .._progress import BatchStats, ModelUsage
from .._types import CallRecord

__all__ = ["SPEND_JOURNAL", "RunStats", "add_by_model", "by_model", "unpriced"]

#: The run directory's spend journal (`archon_async.callpath.SpendJournal`): every request
#: of every run of the search, written before it is sent.
SPEND_JOURNAL = "spend.journal.jsonl"

#: Spend of one model: calls, tokens (in plus out) and list-price dollars.
ModelSpend = dict[str, float]


def unpriced(models: Iterable[str]) -> list[str]:
    """The models of ``models`` with no list price (sorted, once each)."""
    return sorted({model for model in models if model not in DEFAULT_PRICES})


def by_model(*tallies: BatchStats) -> dict[str, ModelSpend]:
    """What was sent, by model, over ``tallies`` (cache hits apart): calls, tokens and
    list-price dollars (0 for a model with no price, named elsewhere)."""
    spend: dict[str, ModelSpend] = {}
    for tally in tallies:
        for model, usage in tally.per_model.items():
            dollars = cost_usd(model, usage.input_tokens, usage.output_tokens, tally.prices)
            add_by_model(
                spend,
                {
                    model: {
                        "calls": usage.calls,
                        "tokens": usage.input_tokens + usage.output_tokens,
                        "dollars": dollars or 0.0,
                    }
                },
            )
    return spend


def add_by_model(total: dict[str, ModelSpend], more: dict[str, ModelSpend]) -> None:
    """Add the spend by model ``more`` into ``total``."""
    for model, used in more.items():
        into = total.setdefault(model, {"calls": 0, "tokens": 0, "dollars": 0.0})
        for what in ("calls", "tokens", "dollars"):
            into[what] = into[what] + used.get(what, 0)
        into["dollars"] = usd(into["dollars"])


@dataclass(slots=True)
class RunStats(BatchStats):
    """`BatchStats` (what was sent) that also count every call as if sent (`alone`)."""

    #: Calls and tokens by model with the cache hits at their first cost.
    alone: dict[str, ModelUsage] = field(default_factory=lambda: defaultdict(ModelUsage))

    def add_calls(self, calls: Iterable[CallRecord]) -> None:
        """Count the calls of one finished prompt, in both tallies."""
        calls = list(calls)
        BatchStats.add_calls(self, calls)
        for call in calls:
            usage = self.alone[call.model]
            usage.calls += 1
            usage.input_tokens += call.saved_input_tokens if call.cached else call.input_tokens
            usage.output_tokens += call.saved_output_tokens if call.cached else call.output_tokens

    def alone_totals(self) -> tuple[int, int, float, list[str]]:
        """Calls, tokens and list-price dollars as if every call were sent, and the models
        of those calls with no price (their dollars are not in the sum)."""
        calls = tokens = 0
        dollars, missing = 0.0, []
        for model, usage in self.alone.items():
            calls += usage.calls
            tokens += usage.input_tokens + usage.output_tokens
            price = cost_usd(model, usage.input_tokens, usage.output_tokens, self.prices)
            if price is None:
                missing.append(model)
            else:
                dollars += price
        return calls, tokens, dollars, sorted(missing)
