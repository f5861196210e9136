"""The simulated ground truth's settings and per-question chances, as the search uses them.

They live with the simulated provider (`archon_async.simulate._effects`), whose replies
follow the same effects; this module keeps the search's own names for them.
"""

from __future__ import annotations

from ..simulate._effects import Effects, QuestionSet

__all__ = ["Effects", "QuestionSet"]
