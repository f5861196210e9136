"""The axes of the report's charts (`archon_async.search._report_html`): a range and its
ticks chosen from the data, labelled with as many decimals as the ticks' step needs.

Ticks fall on round steps (1, 2 or 5 times a power of ten), at most seven of them, and the
axis runs from the tick at or below the least value to the one at or above the greatest.
A flat series (every value equal, or spread over less than 2% of their size: a search
whose every architecture scored the same) is drawn across a range around it, 2% of its
size wide (1 around zero), instead of on a zero-width range whose two ends read alike
however many decimals they are given (a new user's report said "0.0000000" at both).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Axis", "axis"]

_MOST_TICKS = 7
_FLAT = 0.02  # a spread under this share of the values' size draws as flat


@dataclass(frozen=True)
class Axis:
    """A chart axis: it runs from ``low`` to ``high`` (the first and last of ``ticks``),
    whose labels have ``decimals`` decimals after ``unit`` (``"$"`` or none)."""

    low: float
    high: float
    ticks: tuple[float, ...]
    decimals: int
    unit: str = ""

    def labels(self) -> list[str]:
        """Each tick as text (``"$0.0025"``, ``"62.5"``), no two alike."""
        return [f"{self.unit}{round(t, self.decimals) + 0.0:.{self.decimals}f}" for t in self.ticks]

    def scale(self, start: float, end: float) -> Callable[[float], float]:
        """Where a value falls between the pixels ``start`` (at ``low``) and ``end``."""
        span = self.high - self.low
        return lambda v: start + (v - self.low) / span * (end - start)


def axis(
    values: Sequence[float], *, unit: str = "", integer: bool = False, top: float | None = None
) -> Axis:
    """The axis that shows ``values`` (at least one): whole-number ticks where ``integer``
    (a count), never above ``top`` where the values cannot be (100 for points) unless they
    are, and never below 0 where no value is."""
    low, high = min(values), max(values)
    size = max(abs(low), abs(high))
    least = 2.0 if integer else (_FLAT * size or 1.0)
    if high - low < least:  # flat: a range around the values, within their bounds
        middle = (low + high) / 2
        low, high = middle - least / 2, middle + least / 2
        if top is not None and high > top >= max(values):
            low, high = low - (high - top), top
        if low < 0 <= min(values):
            low, high = 0.0, high - low
    step = _step(low, high, integer=integer)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    ticks = tuple(i * step for i in range(first, last + 1))
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return Axis(ticks[0], ticks[-1], ticks, decimals, unit)


def _step(low: float, high: float, *, integer: bool) -> float:
    """The least round step (1, 2 or 5 times a power of ten; at least 1 for a count) that
    puts at most seven ticks over ``low`` to ``high``."""
    exponent = math.floor(math.log10((high - low) / _MOST_TICKS))
    while True:
        for mantissa in (1, 2, 5):
            step = mantissa * 10.0**exponent
            if integer and step < 1:
                continue
            count = math.ceil(high / step - 1e-9) - math.floor(low / step + 1e-9) + 1
            if count <= _MOST_TICKS:
                return step
        exponent += 1
