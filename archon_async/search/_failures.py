"""Provider failures during a search: a question an architecture could not answer because
its provider was down is not a wrong answer.

A run whose calls failed after their retries on a provider fault (no connection, timeouts,
5xx, the circuit open, 429s to the end, a refused key or no key left) measured the provider,
not the architecture: scored as wrong answers, an outage made every architecture score 0 and
the search end "done" with a best.json chosen among zeros, kept by every resume. Such a run
stops the search instead (`ProviderOutageError`); what was recorded stays, the evaluation it
cut is done again by the same command once the provider answers, its calls so far from the
cache. So does a failure every question would meet (no such model, no access to it: a 404
or 403, as `archon_async._batch_answer.is_fatal` has it). A call the provider refused for the
request itself (a 400: the prompt too long for the model, a content filter) is the
architecture's answer on that question, and is scored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .._exceptions import ArchonError
from .._types import CallRecord

__all__ = ["ProviderOutageError", "outage", "outage_of"]

# The error types (`CallRecord.error` starts with the name) of a call given up on a
# provider fault: `archon_async._exceptions`' connection, timeout, circuit, rate-limit,
# server, key and malformed-reply errors.
_OUTAGES = frozenset(
    {
        "ProviderConnectionError",
        "ProviderTimeoutError",
        "CircuitOpenError",
        "RateLimitError",
        "RateLimitResetError",
        "ProviderServerError",
        "AuthenticationError",
        "KeyPoolExhaustedError",
        "MalformedResponseError",
    }
)


# No such model (404) or no access to it (403): every question would meet it.
_EVERY_QUESTION = re.compile(r"\bHTTP 40[34]\b")


class ProviderOutageError(ArchonError):
    """A provider failed an architecture's calls during a search (after their retries); the
    search stopped with what it recorded kept. Run it again once the provider answers.

    Attributes:
        error: the first failed call's error (type and message).
    """

    def __init__(self, what: str, error: str) -> None:
        self.error = error
        super().__init__(
            f"the search stopped: a provider failed {what} after its retries ({error}); "
            "the run directory keeps every evaluation finished, and the one cut short is "
            "done again (from the cache as far as it went) when the same command runs once "
            "the provider answers (or the cause is fixed)"
        )


def outage(calls: Iterable[CallRecord]) -> str | None:
    """The error of the first call among ``calls`` given up on a provider fault, or None."""
    for call in calls:
        if call.error and (
            call.error.split(":", 1)[0] in _OUTAGES or _EVERY_QUESTION.search(call.error)
        ):
            return call.error
    return None


def outage_of(record: dict[str, object], calls: Iterable[CallRecord]) -> str | None:
    """The provider fault that spoilt an answer line of `answer_item`, or None: the line's
    error (a failure whose leaves include a provider fault), else a call of its attempt
    given up on one (the layer went on without that component: a smaller architecture
    than the one measured). A line answered on a second attempt is taken as it is: the
    calls of the failed first attempt are not told apart from its own."""
    error = record.get("error")
    if isinstance(error, str):
        faults = [name for name in _OUTAGES if f"{name}:" in error]
        if faults or record.get("fatal") or _EVERY_QUESTION.search(error):
            return outage(calls) or error
        return None
    return outage(calls) if record.get("attempts") == 1 else None
