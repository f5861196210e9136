"""Counts in words for people reading progress lines and reports ("1 sample", "2 samples")."""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, noun: str) -> str:
    """``count`` and ``noun``, the noun with an ``s`` unless the count is 1 (every noun we
    count takes one: sample, model, question, call, fuser, architecture); thousands are
    separated (``1,319 questions``)."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"
