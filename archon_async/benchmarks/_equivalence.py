"""Answer equivalence through Hugging Face's Math-Verify (MATH and GSM8K final answers).

Extraction (which part of a reply is the final answer) follows each benchmark's own
protocol and lives in `_math_answers` and `_gsm8k_answers`; this module only decides
whether two extracted answers are the same mathematical object (``0.5`` and ``\\frac12``,
``x = 5`` and ``5``, ``(3, \\pi/2)`` and ``\\left( 3, \\frac{\\pi}{2} \\right)``), with
Math-Verify's SymPy-based comparison in its strict mode (variables matter; a set is not a
tuple).
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Any

__all__ = ["latex_equal"]

# Math-Verify bounds each parse and comparison with signal.alarm, which only the main
# thread may use; elsewhere (a worker thread) it runs without that bound. Its 5 s default
# cut real parses short on a loaded machine (a first \left(...\right) parse took over 5 s
# with 8 processes on 2 cores), turning right answers wrong: the bound is only there to stop
# a pathological input, so it is generous.
_TIMEOUT_S = 30


def _timeout() -> int | None:
    return _TIMEOUT_S if threading.current_thread() is threading.main_thread() else None


class _NoTimeoutNotice(logging.Filter):
    """Drops Math-Verify's notice that its timeout is off: off in a worker thread is our
    choice (above), and the notice reached users once per search or batch."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Timeout is disabled")


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_NoTimeoutNotice())


@lru_cache(maxsize=4096)
def _parsed(latex: str) -> tuple[Any, ...]:
    """Math-Verify's parse of one answer written as LaTeX (empty: it could not parse it)."""
    from math_verify import LatexExtractionConfig, parse  # type: ignore[import-untyped]

    # Only the answer itself is given, so the whole string is one math span.
    found = parse(
        f"${latex}$",
        extraction_config=[LatexExtractionConfig()],
        parsing_timeout=_timeout(),  # None disables it
    )
    return tuple(found)


def latex_equal(reference: str, prediction: str) -> bool:
    """Whether ``prediction`` is the same answer as ``reference`` (both LaTeX or plain).

    Neither may be empty; an answer Math-Verify cannot parse equals only the same text.
    """
    reference, prediction = reference.strip(), prediction.strip()
    if not reference or not prediction:
        return False
    if reference == prediction:
        return True
    from math_verify import verify

    gold, target = _parsed(reference), _parsed(prediction)
    if not gold or not target:
        return False
    return bool(verify(list(gold), list(target), strict=True, timeout_seconds=_timeout()))
