"""What the simulated provider remembers: counters, seen request bodies, the request log."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

__all__ = [
    "Counters",
    "RequestLedger",
    "RequestRecord",
    "SimulationStats",
    "derive_seed",
]

# Bounds the memory of seen request bodies (about 100 bytes each); past it the ledger
# starts afresh, so a body seen before then counts its samples from 0 again.
_MAX_TRACKED_BODIES = 2_000_000


def derive_seed(*parts: object) -> int:
    """A 64-bit seed from any printable parts: stable across processes (unlike ``hash``)."""
    text = "\x1f".join(str(part) for part in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


class SimulationStats(BaseModel):
    """What the server has received since it started (or since its stats were reset).

    Attributes:
        requests: every request to a model endpoint, including rejected ones.
        by_endpoint: requests per endpoint (``openai.chat_completions``, ``score``, ...).
        by_model: requests per model.
        by_task: replies written per task (``generate``, ``rank``, ``critique``, ...).
        replies: successful replies sent.
        by_key: requests per API key, for the keys listed in the settings only.
        rate_limited: 429s sent for a rate limit; ``rate_limited_by_model`` and
            ``rate_limited_by_key`` split them by the limit that was hit.
        faults: faults injected, per kind.
        unauthorized: 401s sent for a missing or refused key.
        out_of_quota: refusals sent for a key out of quota.
        bad_requests: 400s sent for a body that is not a request.
        prompt_tokens: input tokens counted in successful replies.
        completion_tokens: output tokens counted in successful replies.
        in_flight: requests being served now.
        in_flight_max: the most requests served at once.
        cancelled: requests whose client went away before the reply was complete (a
            cancelled call, or a stream cut short).
    """

    model_config = ConfigDict(frozen=True)

    requests: int = 0
    by_endpoint: dict[str, int] = {}
    by_model: dict[str, int] = {}
    by_task: dict[str, int] = {}
    by_key: dict[str, int] = {}
    replies: int = 0
    rate_limited: int = 0
    rate_limited_by_model: dict[str, int] = {}
    rate_limited_by_key: dict[str, int] = {}
    faults: dict[str, int] = {}
    unauthorized: int = 0
    out_of_quota: int = 0
    bad_requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    in_flight: int = 0
    in_flight_max: int = 0
    cancelled: int = 0


@dataclass
class Counters:
    """The mutable tallies behind `SimulationStats`."""

    requests: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    by_model: Counter[str] = field(default_factory=Counter)
    by_task: Counter[str] = field(default_factory=Counter)
    by_key: Counter[str] = field(default_factory=Counter)
    replies: int = 0
    rate_limited: int = 0
    rate_limited_by_model: Counter[str] = field(default_factory=Counter)
    rate_limited_by_key: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    unauthorized: int = 0
    out_of_quota: int = 0
    bad_requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    in_flight: int = 0
    in_flight_max: int = 0
    cancelled: int = 0

    def enter(self) -> None:
        """A request starts being served."""
        self.in_flight += 1
        self.in_flight_max = max(self.in_flight_max, self.in_flight)

    def leave(self) -> None:
        """A request is done."""
        self.in_flight -= 1

    def snapshot(self) -> SimulationStats:
        """A frozen copy: each of `SimulationStats`'s fields from the tally of that name,
        the per-name counters as plain dicts."""
        tallies = {name: getattr(self, name) for name in SimulationStats.model_fields}
        return SimulationStats.model_validate(
            {k: dict(v) if isinstance(v, Counter) else v for k, v in tallies.items()}
        )

    def reset(self) -> None:
        """Zero every tally but the requests in flight now (they are still running)."""
        in_flight = self.in_flight
        fresh = Counters(in_flight=in_flight, in_flight_max=in_flight)
        self.__dict__.update(fresh.__dict__)


class RequestRecord(BaseModel):
    """One request, as the request log keeps it.

    Attributes:
        at_s: when it arrived, in seconds since the server started.
        endpoint: ``openai.chat_completions``, ``anthropic.messages``, ...
        model: the model asked for ("" when the body could not be read).
        key: the API key, if the settings list it; ``"unlisted"`` for any other key
            (never shown), None when the request had none.
        status: the status answered; None when the connection was dropped (a ``reset``
            fault, or a client that gave up).
        retry_after_s: the Retry-After sent with a 429, in seconds.
        n: how many choices it asked for (OpenAI's ``n``, Gemini's ``candidateCount``).
    """

    model_config = ConfigDict(frozen=True)

    at_s: float
    endpoint: str
    model: str
    key: str | None
    status: int | None
    retry_after_s: float | None = None
    n: int = 1


class RequestLedger:
    """How often each request body has arrived and been answered (keyed by its digest).

    Arrivals number the attempts (faults are drawn per attempt, so a retry can succeed);
    answers number the samples (a reply's seed), so that identical requests get different
    replies in a fixed order while a failed attempt does not use up a sample.
    """

    def __init__(self) -> None:
        self._attempts: dict[int, int] = {}
        self._samples: dict[int, int] = {}

    def next_attempt(self, digest: int) -> int:
        """The 0-based attempt number of this arrival of ``digest``."""
        if len(self._attempts) >= _MAX_TRACKED_BODIES:
            self._attempts.clear()
        attempt = self._attempts.get(digest, 0)
        self._attempts[digest] = attempt + 1
        return attempt

    def take_samples(self, digest: int, count: int) -> int:
        """Reserve ``count`` sample numbers for ``digest``; returns the first."""
        if len(self._samples) >= _MAX_TRACKED_BODIES:
            self._samples.clear()
        first = self._samples.get(digest, 0)
        self._samples[digest] = first + count
        return first
