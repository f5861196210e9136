"""Words for people reading progress lines, reports and errors: counts ("1 sample", "2
samples") and the did-you-mean suggestion of an unknown name."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["closest", "plural"]


def plural(count: int, noun: str) -> str:
    """``count`` and ``noun``, the noun with an ``s`` unless the count is 1 (every noun we
    count takes one: sample, model, question, call, fuser, architecture); thousands are
    separated (``1,319 questions``)."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def closest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice most like ``word`` (difflib's ratio at least ``cutoff``), or None: the
    did-you-mean of an unknown key or name.

    difflib is imported on the first call: only a mistyped config or flag needs it, and a
    command that meets none does not pay for its import (bench/RESULTS.md, issue 12).
    """
    import difflib

    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return found[0] if found else None
