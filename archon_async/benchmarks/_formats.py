"""Names of the official output formats (a leaf module: the CLI's parsers read it)."""

from __future__ import annotations

__all__ = ["ARENA_HARD_FORMATS"]

#: Arena-Hard-Auto answer formats: ``current`` (``uid``/``messages``, the repository's
#: format since its April 2025 reformat) and ``legacy`` (v0.1's ``question_id``/``choices``,
#: the one Archon's and the original arena-hard-auto's scripts read).
ARENA_HARD_FORMATS = ("current", "legacy")
