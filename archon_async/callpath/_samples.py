"""Drawing several samples of one request in as few requests as the provider allows.

Archon's 10 samples of a model are 10 identical requests; OpenAI, vLLM and Together take
``n`` and Gemini ``candidateCount``, so those samples can be one request, which under a
requests-per-minute limit is what decides throughput. An adapter says how many samples one
request may ask for (``max_samples_per_request``: OpenAI's wire 128 as OpenAI documents, 1
for Groq, which documents ``n=1`` only; Gemini 8); adapters without it draw one per request.
A provider that refuses ``n`` (a 400 naming it) is remembered per endpoint and model (the
endpoint identity the cache key uses: two vLLM servers of one model_type are two, one may
take ``n`` and the other not; `refusal_scope`), and its samples are drawn one request each
from then on, or, where the refusal states the most a
request may ask ("'n' : number must be at most 3", OpenAI's "Expected a value <= 10"), in
requests of that many. A server that ignores ``n`` and answers fewer choices than asked
(llama-cpp-python's and lmdeploy's servers answer one) is remembered the same way: the
choices it sent are kept and the rest drawn as many a request as it answered.

The trace stays per sample: each sample gets its own `CallRecord` with its share of the
request's tokens (see `providers._base.with_choices`); the samples after the first are
marked ``batched`` (no request of their own), and the first carries the request's retries,
timeouts and wait for the limits (so the trace's totals count each once).

On the simulated provider, a request drawn for the cache carries the sample numbers its
choices stand for (`SAMPLES_FIELD`), so the simulator answers sample j of a request with
the same reply whatever was drawn before in its lifetime: a reply is a function of the
request, the seed and j, and a search resumed on a fresh server (its cache holding some
samples) gets the very replies an uninterrupted one got.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence

from .._exceptions import InvalidInputError
from .._redact import redacted_url
from .._retry import most_allowed, refuses_n
from .._types import CallRecord, ChatRequest, ChatResponse, FailedChoice

__all__ = [
    "DRAW_STRIDE",
    "MAX_DRAWS",
    "SAMPLES_FIELD",
    "NRefusals",
    "check_draw",
    "check_seed",
    "chunk_sizes",
    "most_allowed",
    "numbered",
    "refusal_scope",
    "refuses_n",
    "sample_records",
]

#: The body field that tells the simulated provider which sample numbers a request's
#: choices are (a list of ints, one per choice); the simulator reads it and drops it.
SAMPLES_FIELD = "simulate_samples"

#: Sample numbers per draw: draw ``d`` of a run (``Engine.generate(..., draw=d)``, an
#: independent answer to the same prompt, as the search's race passes ask) numbers its
#: requests' samples from ``d * DRAW_STRIDE``, so draw 0 is sample 0, 1, ... as ever (the
#: cache keys of every earlier run) and no run's samples reach the next draw's (a run would
#: need 2**32 identical requests). Where the model samples (temperature above 0, or the
#: simulated provider, which also draws a new correlated group per draw) another draw is an
#: independent answer; at temperature 0 a real model gives the same answer again.
DRAW_STRIDE = 1 << 32
#: Draws a run may ask for (0 .. MAX_DRAWS - 1): the last draw's last sample number,
#: ``(MAX_DRAWS - 1) * DRAW_STRIDE + DRAW_STRIDE - 1``, is 2**63 - 1, the largest integer a
#: cache file (SQLite's signed 64-bit INTEGER) stores.
MAX_DRAWS = 1 << 31


def check_seed(seed: object, where: str) -> None:
    """Refuse a seed of random choices that is not a whole number (``where`` names the
    argument, e.g. ``"Engine(seed=...)"``): a string, a float or a bool was taken as it was
    and seeded choices by its text, so ``1.0``, ``True`` and ``1`` chose differently.

    Raises:
        InvalidInputError: ``seed`` is not an int (a bool is not one here).
    """
    if type(seed) is not int:
        raise InvalidInputError(
            f"{where} takes a whole number, not {type(seed).__name__} {seed!r}: pass an int "
            "(the same seed and prompt always choose alike)"
        )


def check_draw(draw: object) -> None:
    """Refuse a ``draw`` that is not a whole number from 0 to ``MAX_DRAWS - 1``: what
    `Engine.generate` and `CallPath.complete` / `complete_samples` check before any call.

    Raises:
        InvalidInputError: ``draw`` is a bool, None, a float, a string, negative, or past
            the last draw whose sample numbers a cache file can store.
    """
    # type() is not isinstance(): True and False are ints to isinstance, and 1.0 compares
    # equal to 1, but neither says which draw was meant.
    if type(draw) is not int or not 0 <= draw < MAX_DRAWS:
        raise InvalidInputError(
            f"draw must be a whole number from 0 to {MAX_DRAWS - 1}, not {draw!r}: pass an "
            "int (0, the default, is the usual numbering; d > 0 an independent answer)"
        )


def refusal_scope(model_type: str, endpoint: str) -> str:
    """The first half of the key a refusal of ``n`` is remembered by (the model is the
    other): the model_type alone for a provider with no base URL, else ``model_type@URL``
    (the URL's password masked: the key is kept in the cache file and in Redis). Kept in
    the stores' ``model_type`` field: a record of an earlier version, keyed by the
    model_type alone, is left unread (one probe of ``n`` learns it again)."""
    if endpoint == model_type:
        return model_type
    return f"{model_type}@{redacted_url(endpoint)}"


class NRefusals:
    """The (scope, model) pairs that refused ``n`` (`refusal_scope`: the model_type and
    endpoint), with the most samples a request may ask of them since (1: one request per
    sample)."""

    def __init__(self) -> None:
        self._most: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        #: Told of each refusal learned here: the stores other processes read it from (the
        #: cache file, Redis), so that they do not ask ``n`` first (`CallPath` sets them).
        self.listeners: list[Callable[[str, str, int], None]] = []

    def __contains__(self, pair: object) -> bool:
        return pair in self._most

    def most(self, model_type: str, model: str) -> int | None:
        """The most samples a request may ask, if the pair refused ``n`` (else None)."""
        return self._most.get((model_type, model))

    def add(self, model_type: str, model: str, most: int = 1) -> None:
        """Remember a refusal: requests of at most ``most`` samples from now on."""
        if self.learn({(model_type, model): most}):
            for tell in self.listeners:
                tell(model_type, model, most)

    def learn(self, refusals: Mapping[tuple[str, str], int]) -> bool:
        """Take refusals another process recorded (or this one): whether any was new."""
        changed = False
        with self._lock:
            for pair, most in refusals.items():
                known = self._most.get(pair)
                if known is None or most < known:
                    self._most[pair] = most
                    changed = True
        return changed


def chunk_sizes(count: int, most: int) -> list[int]:
    """``count`` samples as requests of at most ``most`` each, as even as possible."""
    requests = -(-count // most)
    base, extra = divmod(count, requests)
    return [base + 1] * extra + [base] * (requests - extra)


def numbered(request: ChatRequest, samples: Sequence[int] | None) -> ChatRequest:
    """``request`` marked with the sample numbers it draws (see `SAMPLES_FIELD`); as it is
    when ``samples`` is None (not simulated, or not drawn for the cache)."""
    if samples is None:
        return request
    return dataclasses.replace(request, extra={**request.extra, SAMPLES_FIELD: list(samples)})


def sample_records(record: CallRecord, response: ChatResponse) -> list[CallRecord]:
    """One record per sample of an ``n`` > 1 request, each with its share of the tokens
    (a `FailedChoice`'s with its error)."""
    records = []
    for index, choice in enumerate(response.choices):
        failed = choice.error if isinstance(choice, FailedChoice) else None
        records.append(
            dataclasses.replace(
                record,
                error=None if failed is None else f"{type(failed).__name__}: {failed}",
                input_tokens=choice.usage.input_tokens,
                output_tokens=choice.usage.output_tokens,
                retries=record.retries if index == 0 else 0,
                timeouts=record.timeouts if index == 0 else 0,
                wait_s=record.wait_s if index == 0 else 0.0,  # one request waited once
                finish_reason=choice.finish_reason,
                batched=index > 0,
            )
        )
    return records
