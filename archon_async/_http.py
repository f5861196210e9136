"""What providers say about their limits, and the names every HTTP transport shares.

The headers (``retry-after``, ``x-ratelimit-*``, ``anthropic-ratelimit-*``) are read here,
for the adapters' errors and the engine's limiters alike. The HTTP client itself (httpx's
API on an aiohttp transport) is built in `archon_async._http_client`, imported when a
provider first sends: this module imports no HTTP library, so that a run that sends nothing
(a fully cached rerun, ``--help``, ``validate``) never pays for importing httpx.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime

__all__ = [
    "CONNECT_TIMEOUT_S",
    "STREAM_EXTENSION",
    "rate_limit_headers",
    "retry_after_from_headers",
]

#: The request extension asking the transport for a streamed reply (read as it arrives)
#: instead of a whole one; other httpx transports stream every reply anyway.
STREAM_EXTENSION = "archon.stream"
#: Connecting should be quick; a slow connect means the host is unreachable or overloaded.
CONNECT_TIMEOUT_S = 10.0


#: Response headers that say how much of a rate limit is left (captured into responses).
_LIMIT_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-", "retry-after", "x-request-id")
# (remaining header, reset header) pairs: when remaining is 0, the reset says how long to wait.
_EXHAUSTED_PAIRS = (
    ("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
    ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    ("anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset"),
    ("anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset"),
)
#: The first letters of `_LIMIT_PREFIXES`, either case.
_LIMIT_INITIALS = "xXaArR"
#: Every header `retry_after_from_headers` reads (lowercase).
_PAUSE_NAMES = frozenset(
    ("retry-after-ms", "retry-after", *(name for pair in _EXHAUSTED_PAIRS for name in pair))
)
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def rate_limit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers of a response that matter to limits, with lowercase names."""
    limits = {}
    for name, value in headers.items():
        # The first letter first: most headers (content-type, date, server) are passed
        # over without a lowercased copy of their name (read on every reply; ~4 k of its
        # ~12 k instructions, bench/RESULTS.md, "Measure 3, tenth pass").
        if name[:1] in _LIMIT_INITIALS:
            lower = name.lower()
            if lower.startswith(_LIMIT_PREFIXES):
                limits[lower] = value
    return limits


def retry_after_from_headers(
    headers: Mapping[str, str], *, now: float | None = None
) -> float | None:
    """How many seconds the provider asks us to wait, or None when it does not say.

    Reads ``retry-after-ms``, then ``retry-after`` (seconds or an HTTP date), then the reset
    time of any rate-limit bucket whose ``remaining`` is 0 (OpenAI's ``x-ratelimit-*`` with
    durations like ``6m0s``, Anthropic's ``anthropic-ratelimit-*`` with RFC 3339 times).

    Args:
        headers: response headers; names are matched case-insensitively.
        now: the current Unix time, for dates (defaults to the clock).
    """
    lower = {name.lower(): value for name, value in headers.items()}
    if lower.keys().isdisjoint(_PAUSE_NAMES):
        return None  # nothing below would be found (every successful call: ~8 k instructions)
    explicit = _parse_seconds(lower.get("retry-after-ms"), scale=0.001)
    if explicit is None and "retry-after" in lower:
        explicit = _parse_retry_after(lower["retry-after"], time.time() if now is None else now)
    if explicit is not None:
        return explicit
    # Read on every successful call: the clock only once a bucket is found empty.
    exhausted = [reset for remaining, reset in _EXHAUSTED_PAIRS if _is_zero(lower.get(remaining))]
    if not exhausted:
        return None
    clock = time.time() if now is None else now
    waits = [
        wait for reset in exhausted if (wait := _parse_reset(lower.get(reset), clock)) is not None
    ]
    return max(waits) if waits else None


def _parse_seconds(value: str | None, *, scale: float = 1.0) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value) * scale
    except ValueError:
        return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _parse_retry_after(value: str | None, clock: float) -> float | None:
    seconds = _parse_seconds(value)
    if seconds is not None or value is None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - clock, 0.0)


def _parse_reset(value: str | None, clock: float) -> float | None:
    if not value:
        return None
    seconds = _parse_seconds(value)
    if seconds is not None:
        return seconds
    parts = _GO_DURATION.findall(value)
    if parts and "".join(number + unit for number, unit in parts) == value.strip():
        return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - clock, 0.0)


def _is_zero(value: str | None) -> bool:
    try:
        return value is not None and float(value) <= 0
    except ValueError:
        return False
