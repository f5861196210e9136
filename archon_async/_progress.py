"""Batch progress: counters, a live tqdm bar on a terminal, timestamped lines elsewhere."""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import anyio

from ._pricing import DEFAULT_PRICES, cost_usd, usd, usd_text
from ._types import CallRecord

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["BatchStats", "ModelUsage", "ProgressReporter", "report_progress"]


def format_interval(seconds: float) -> str:
    """``[H:]MM:SS``, as tqdm shows elapsed and remaining time (tqdm itself is imported
    only for a live bar: a batch writing to a file or a pipe never loads it)."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


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
    retries: int = 0
    timeouts: int = 0
    # Requests sent: a request of n samples is n calls (one per sample, each with its
    # share of the tokens) and one request, which is what a requests-per-minute limit counts.
    requests: int = 0

    def add_calls(self, calls: Iterable[CallRecord]) -> None:
        """Count the calls of one finished prompt (cache hits apart: they cost nothing)."""
        for call in calls:
            self.retries += call.retries
            self.timeouts += call.timeouts
            if call.cached:
                self.cache_hits += 1
                continue
            self.requests += not call.batched
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
        """One status line: done, percentage, elapsed time, ETA, rates and cost."""
        done, todo = self.answered + self.failed, self.total - self.skipped
        elapsed = self.elapsed_s
        percent = 100 * done / todo if todo else 100.0
        eta = "?" if not done else format_interval(elapsed * (todo - done) / done)
        return (
            f"{done}/{todo} done ({percent:.0f}%), elapsed {format_interval(elapsed)}, "
            f"ETA {eta}, {self.rates()}"
        )

    def rates(self) -> str:
        """Failures, prompts in flight, calls and tokens per second, and the cost so far."""
        elapsed = max(self.elapsed_s, 1e-9)
        retried = f"{self.retries} retries ({self.timeouts} timeouts), " if self.retries else ""
        return (
            f"{self.failed} failed, {self.in_flight} in flight, {retried}"
            f"{self.calls / elapsed:.1f} calls/s, {self.tokens / elapsed:.0f} tokens/s, "
            f"{self.cost_text()}"
        )

    def cost_text(self) -> str:
        """The cost so far for people: ``~$0.00461``; never ``~$0`` for calls to a model
        with no known price (``>= ~$0.00461 (no price for m)``, or ``~$? (...)`` where no
        model called has a price)."""
        cost, unpriced = self.cost()
        if not unpriced:
            return f"~{usd_text(cost)}"
        names = ", ".join(unpriced) if len(unpriced) <= 2 else f"{len(unpriced)} models"
        priced = len(unpriced) < len(self.per_model)
        return (
            f">= ~{usd_text(cost)} (no price for {names})"
            if priced
            else f"~$? (no price for {names})"
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
            "requests": self.requests,
            "retries": self.retries,
            "timeouts": self.timeouts,
            "cache_hits": self.cache_hits,
            "estimated_cost_usd": usd(cost),
            "unpriced_models": unpriced,
            "per_model": {
                model: {
                    "calls": usage.calls,
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "estimated_cost_usd": _usd_or_none(
                        cost_usd(model, usage.input_tokens, usage.output_tokens, self.prices)
                    ),
                }
                for model, usage in sorted(self.per_model.items())
            },
        }


def _usd_or_none(value: float | None) -> float | None:
    return None if value is None else usd(value)


class ProgressReporter:
    """Shows a batch's progress: percentage, elapsed time and ETA.

    On a terminal a live tqdm bar (redrawn in place); elsewhere (a log file, CI) a plain
    line per interval, each with a UTC timestamp. `close` draws the final state once, so a
    run shorter than the interval still reports, and no stale frame stays above the summary.

    Args:
        stats: the counters to show.
        stream: where to write (default: standard error).
        interval_s: seconds between reports (default 0.5 on a terminal, 10 elsewhere).
    """

    def __init__(
        self, stats: BatchStats, *, stream: TextIO | None = None, interval_s: float | None = None
    ) -> None:
        self._stats = stats
        self._out = stream or sys.stderr
        self._live = self._out.isatty()
        self._period = interval_s if interval_s is not None else (0.5 if self._live else 10.0)
        self._bar: tqdm[Any] | None = None
        self._closed = False
        if self._live:
            from tqdm import tqdm

            self._bar = tqdm(
                total=stats.total,
                file=self._out,
                unit="prompt",
                dynamic_ncols=True,
                leave=True,
                mininterval=0,
                bar_format="{percentage:3.0f}%|{bar}| {n}/{total} [{elapsed}<{remaining}] "
                "{postfix}",
            )

    async def run(self) -> None:
        """Report every interval until cancelled."""
        while True:
            await anyio.sleep(self._period)
            self.report()

    def report(self) -> None:
        """Show the counters now."""
        stats = self._stats
        if self._bar is not None:
            self._bar.total = stats.total - stats.skipped
            self._bar.n = stats.answered + stats.failed
            self._bar.set_postfix_str(stats.rates(), refresh=False)
            self._bar.refresh()
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._out.write(f"{stamp} progress: {stats.line()}\n")
        self._out.flush()

    def close(self) -> None:
        """Draw the final state once and let go of the terminal line (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.report()
        if self._bar is not None:
            self._bar.close()


async def report_progress(
    stats: BatchStats, *, stream: TextIO | None = None, interval_s: float | None = None
) -> None:
    """Show progress until cancelled (see `ProgressReporter`), then the final state."""
    reporter = ProgressReporter(stats, stream=stream, interval_s=interval_s)
    try:
        await reporter.run()
    finally:
        reporter.close()
