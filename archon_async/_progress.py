"""Batch progress: counters, a live line on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import anyio

from ._pricing import DEFAULT_PRICES, cost_usd
from ._types import CallRecord

__all__ = ["BatchStats", "ModelUsage", "report_progress"]


@dataclass(slots=True)
class ModelUsage:
    """Calls and tokens spent on one model."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(slots=True)
class BatchStats:
    """Live counters of a batch; also its summary at the end."""

    total: int
    skipped: int = 0
    answered: int = 0
    failed: int = 0
    in_flight: int = 0
    started_at: float = field(default_factory=time.perf_counter)
    per_model: dict[str, ModelUsage] = field(default_factory=lambda: defaultdict(ModelUsage))
    prices: Mapping[str, tuple[float, float]] = field(default_factory=lambda: DEFAULT_PRICES)
    cache_hits: int = 0

    def add_calls(self, calls: Iterable[CallRecord]) -> None:
        """Count the calls of one finished prompt (cache hits apart: they cost nothing)."""
        for call in calls:
            if call.cached:
                self.cache_hits += 1
                continue
            usage = self.per_model[call.model]
            usage.calls += 1
            usage.input_tokens += call.input_tokens
            usage.output_tokens += call.output_tokens

    @property
    def elapsed_s(self) -> float:
        """Seconds since the batch started."""
        return time.perf_counter() - self.started_at

    @property
    def calls(self) -> int:
        """Provider calls so far."""
        return sum(usage.calls for usage in self.per_model.values())

    @property
    def tokens(self) -> int:
        """Tokens in and out so far."""
        return sum(u.input_tokens + u.output_tokens for u in self.per_model.values())

    def cost(self) -> tuple[float, list[str]]:
        """Estimated USD so far, and the models with no known price."""
        total, unpriced = 0.0, []
        for model, usage in self.per_model.items():
            value = cost_usd(model, usage.input_tokens, usage.output_tokens, self.prices)
            if value is None:
                unpriced.append(model)
            else:
                total += value
        return total, sorted(unpriced)

    def line(self) -> str:
        """One status line."""
        elapsed = max(self.elapsed_s, 1e-9)
        cost, _ = self.cost()
        done = self.answered + self.failed
        return (
            f"{done}/{self.total - self.skipped} done ({self.failed} failed), "
            f"{self.in_flight} in flight, {self.calls / elapsed:.1f} calls/s, "
            f"{self.tokens / elapsed:.0f} tokens/s, ~${cost:.4f}"
        )

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary with the per-model report."""
        cost, unpriced = self.cost()
        return {
            "prompts": self.total,
            "skipped_already_done": self.skipped,
            "answered": self.answered,
            "failed": self.failed,
            "elapsed_s": round(self.elapsed_s, 3),
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "estimated_cost_usd": round(cost, 6),
            "unpriced_models": unpriced,
            "per_model": {
                model: {
                    "calls": usage.calls,
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "estimated_cost_usd": cost_usd(
                        model, usage.input_tokens, usage.output_tokens, self.prices
                    ),
                }
                for model, usage in sorted(self.per_model.items())
            },
        }


async def report_progress(
    stats: BatchStats, *, stream: TextIO | None = None, interval_s: float | None = None
) -> None:
    """Show progress until cancelled: a live line on a terminal, else a line per interval."""
    out = stream or sys.stderr
    live = out.isatty()
    period = interval_s if interval_s is not None else (0.5 if live else 10.0)
    while True:
        await anyio.sleep(period)
        if live:
            out.write("\r\x1b[K" + stats.line())
        else:
            out.write("progress: " + stats.line() + "\n")
        out.flush()
