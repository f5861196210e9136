"""`Sender`: the call path below the cache, where requests are sent and paid for.

One request: the hard budget's reservation (before any wait: a capped call is refused at
once) -> the dispatcher (its one admission gate: at most ``max_concurrency`` in flight,
oldest run first; circuit, key lease, rpm/tpm buckets, retries) -> the meter and the
budget. Several samples of one request are drawn in requests of ``n`` where the provider
takes it (see `_samples`). Until a (model_type, model) is known to take ``n`` or not, its
first draw of several samples goes alone (the probe) and the others wait for its verdict:
on a server that refuses ``n``, a batch's prompts in flight would otherwise each ask it
once before the first refusal is learnt (~14 wasted requests at the default concurrency).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial

from .._concurrency import gather, gather_map
from .._dispatch import Dispatcher
from .._endpoints import endpoint_identity
from .._exceptions import ArchonError, ProviderError
from .._logging import get_logger
from .._types import CallRecord, ChatRequest, ChatResponse, FailedChoice, Usage
from ._budget import Budget
from ._journal import SpendJournal
from ._samples import (
    NRefusals,
    chunk_sizes,
    most_allowed,
    numbered,
    refusal_scope,
    refuses_n,
    sample_records,
)

__all__ = ["Drawn", "Outcome", "Sender", "refused_records"]

#: A sample's outcome: its response and record, or the error its request met.
Outcome = tuple[ChatResponse, CallRecord] | ProviderError


class Drawn(list[Outcome]):
    """The outcomes of drawn samples, one a sample, with ``refused``: the records of the
    requests refused for asking ``n`` samples, whose samples the outcomes drew again. They
    were sent (and charged, and journaled) too, so the run's trace keeps them: without
    them a batch summary counted fewer calls and requests than were sent."""

    __slots__ = ("refused",)

    def __init__(self, outcomes: Iterable[Outcome] = (), refused: Iterable[CallRecord] = ()):
        super().__init__(outcomes)
        self.refused: list[CallRecord] = list(refused)


def _failed(choice: FailedChoice, record: CallRecord) -> ProviderError:
    """A choice of an ``n`` request that came without text, as that sample's error (its
    record charged with the others: the request was answered and paid for)."""
    error = choice.error
    error.call_record = record
    return error


def refused_records(outcomes: Sequence[object]) -> list[CallRecord]:
    """The refused requests' records ``outcomes`` carry (`Drawn`), none for a plain list."""
    return list(getattr(outcomes, "refused", ()))


log = get_logger(__name__)

#: Hit records kept for reuse (one per model and token counts); cleared beyond this.
_HIT_RECORDS_KEPT = 4096


class Sender:
    """Sends a call path's requests and charges what they cost.

    Args:
        budget: caps on what the call path may spend (None: no caps).
    """

    def __init__(self, budget: Budget | None) -> None:
        #: The dispatcher of the open call path; None while it is closed.
        self.dispatcher: Dispatcher | None = None
        self.budget = budget
        #: Where each request is recorded before it is sent (None: nowhere).
        self.journal: SpendJournal | None = None
        #: What every call spent, capped or not.
        self.meter = Budget()
        self.no_n = NRefusals()
        #: Reads the refusals of ``n`` other processes recorded meanwhile (at most once a
        #: second: `RedisLimits.refresh_refusals`); None: none are shared that way.
        self.refresh_refusals: Callable[[], Awaitable[None]] | None = None
        #: The endpoint identity of every call while simulating (never a real one's).
        self.simulated_as: str | None = None
        self._hit_records: dict[tuple[str, str, int, int], CallRecord] = {}
        #: The (scope, model) pairs (`n_key`) seen to answer a request of ``n`` in full.
        self.takes_n: set[tuple[str, str]] = set()
        self._n_keys: dict[tuple[str, str | None, str], tuple[str, str]] = {}  # `n_key`'s
        #: The pairs whose probe is in flight: done when its verdict is known or it ended.
        self._n_probes: dict[tuple[str, str], asyncio.Future[None]] = {}

    def n_key(self, request: ChatRequest) -> tuple[str, str]:
        """What a refusal of ``n`` is remembered by: (`refusal_scope`, model), the endpoint
        being the one the cache key names (`endpoint_identity`)."""
        # The endpoint follows from the model_type and the request's own base URL (the
        # provider's settings and environment are fixed): worked out once for each.
        where = (request.model_type, request.base_url, request.model)
        key = self._n_keys.get(where)
        if key is None:
            provider = self.opened().provider_for(request.model_type)
            endpoint = endpoint_identity(provider, request, self.simulated_as)
            key = self._n_keys[where] = (refusal_scope(request.model_type, endpoint), request.model)
        return key

    def opened(self) -> Dispatcher:
        """The dispatcher.

        Raises:
            ArchonError: the call path is not open.
        """
        if self.dispatcher is None:
            raise ArchonError("the call path is not open: use 'async with CallPath(...)'")
        return self.dispatcher

    async def send(
        self, request: ChatRequest, ticket: int, *, charge: bool = True
    ) -> tuple[ChatResponse, CallRecord]:
        """One request through the dispatcher (admission, circuit, limits, retries);
        charged unless told not to.

        Raises:
            BudgetExceededError: a hard cap would be passed (before the call waits at all).
            ProviderError: the call failed after its retries (charged if it has a record).
        """
        dispatcher = self.opened()
        # One coroutine from here to the dispatcher: every loop turn of a call resumes each
        # level between the batch worker and the socket (bench/RESULTS.md, measure 3).
        journal = self.journal
        held = self.budget if self.budget is not None and self.budget.per_call else None
        if held is not None:
            held.reserve(request.n)  # a hard cap: raises instead of sending
        try:
            # Journaled as it is reserved: before it can be sent (see `SpendJournal`).
            entry = "" if journal is None else journal.sent(request.n, request.model)
            response, record = await dispatcher.complete(request, ticket)
        except ProviderError as exc:
            failed = exc.call_record
            if journal is not None:
                journal.done(entry, [failed], calls=int(failed is not None))
            if failed is not None and charge:
                self.charge(failed)
            raise
        finally:
            if held is not None:
                held.release(request.n)  # after the charge: the cap never sees a gap
        if journal is not None:
            journal.done(entry, [record], calls=request.n)
        if charge:
            self.charge(record)
        return response, record

    async def draw(
        self, request: ChatRequest, count: int, ticket: int, samples: list[int] | None = None
    ) -> list[Outcome]:
        """Send ``count`` samples: requests of ``n`` where the provider takes it.
        ``samples``: their numbers, told to the simulated provider (see `numbered`)."""
        if count == 0:
            return []
        if count > 1 and self.refresh_refusals is not None:
            await self.refresh_refusals()  # another process may have met a refusal of n
        provider = self.opened().provider_for(request.model_type)
        most = int(getattr(provider, "max_samples_per_request", 1))
        if count == 1 or most <= 1:
            return await self._draw_singly(request, count, ticket, samples)
        key = self.n_key(request)
        refused = self.no_n.most(*key)
        if refused is not None:
            most = min(most, refused)
        if most <= 1:
            return await self._draw_singly(request, count, ticket, samples)
        if refused is None and key not in self.takes_n:
            return await self._draw_probing(request, count, most, ticket, samples)
        return await self._draw_in(request, count, most, ticket, samples)

    async def _draw_probing(
        self, request: ChatRequest, count: int, most: int, ticket: int, samples: list[int] | None
    ) -> list[Outcome]:
        """``count`` samples of a pair not yet known to take ``n`` or not: the first such
        draw is the probe, sent alone; the others wait for its verdict (`_heard`), then go
        in requests of the size it allowed. A probe that ends without one (a timeout, a 5xx
        that is no refusal, cancelled) releases them to ask ``n`` as if none had gone."""
        pair = self.n_key(request)
        probe = self._n_probes.get(pair)
        if probe is None:
            probe = self._n_probes[pair] = asyncio.get_running_loop().create_future()
            try:
                return await self._draw_in(request, count, most, ticket, samples)
            finally:
                if self._n_probes.get(pair) is probe:
                    del self._n_probes[pair]
                    probe.set_result(None)
        await asyncio.shield(probe)  # a waiter's cancellation leaves the others waiting
        refused = self.no_n.most(*pair)
        if refused is not None and refused < most:
            most = refused
        if most <= 1:
            return await self._draw_singly(request, count, ticket, samples)
        return await self._draw_in(request, count, most, ticket, samples)

    def _heard(self, request: ChatRequest) -> None:
        """A verdict on ``n`` for the request's pair is known (taken, refused, or fewer
        choices answered): release what waits for its probe."""
        probe = self._n_probes.pop(self.n_key(request), None)
        if probe is not None:
            probe.set_result(None)

    async def _draw_in(
        self, request: ChatRequest, count: int, most: int, ticket: int, samples: list[int] | None
    ) -> list[Outcome]:
        """``count`` samples in requests of at most ``most`` each, sent at once."""
        steps, start = [], 0
        for size in chunk_sizes(count, most):
            part = None if samples is None else samples[start : start + size]
            steps.append(partial(self._draw_n, request, size, ticket, part))
            start += size
        parts = await gather(steps)
        refused = [record for part in parts for record in refused_records(part)]
        return Drawn((outcome for part in parts for outcome in part), refused)

    async def _draw_singly(
        self, request: ChatRequest, count: int, ticket: int, samples: list[int] | None
    ) -> list[Outcome]:
        async def one(index: int) -> Outcome:
            try:
                number = None if samples is None else samples[index : index + 1]
                return await self.send(numbered(request, number), ticket)
            except ProviderError as exc:
                return exc

        return await gather_map(one, range(count))

    async def _draw_n(
        self, request: ChatRequest, size: int, ticket: int, samples: list[int] | None
    ) -> list[Outcome]:
        if size == 1:
            return await self._draw_singly(request, 1, ticket, samples)
        try:
            response, record = await self.send(
                numbered(dataclasses.replace(request, n=size), samples), ticket, charge=False
            )
        except ProviderError as exc:
            if exc.call_record is not None:
                self.charge(exc.call_record)
            if not refuses_n(exc):
                return [exc] * size
            stated = most_allowed(exc)
            most = stated if stated is not None and stated < size else 1
            self.no_n.add(*self.n_key(request), most)
            if self._n_probes:
                self._heard(request)
            log.info(
                "n_refused", provider=request.model_type, model=request.model, n=size, most=most
            )
            if most > 1:
                again = await self._draw_in(request, size, most, ticket, samples)
            else:
                again = await self._draw_singly(request, size, ticket, samples)
            refused = [exc.call_record] if exc.call_record is not None else []
            return Drawn(again, refused + refused_records(again))
        records = sample_records(record, response)
        for each in records:
            self.charge(each)
        drawn: list[Outcome] = [
            _failed(choice, each) if isinstance(choice, FailedChoice) else (choice, each)
            for choice, each in zip(response.choices, records, strict=True)
        ]
        if len(drawn) < size:
            return await self._draw_rest(request, size, drawn, ticket, samples)
        self.takes_n.add(self.n_key(request))  # no probe for it from now on
        if self._n_probes:
            self._heard(request)
        return drawn

    async def _draw_rest(
        self,
        request: ChatRequest,
        size: int,
        drawn: list[Outcome],
        ticket: int,
        samples: list[int] | None,
    ) -> list[Outcome]:
        """A reply of fewer choices than the ``size`` asked: a server that ignores ``n``
        (llama-cpp-python's answers one). The choices it sent are kept, the model is
        remembered as taking that many a request, and the rest drawn so."""
        got = len(drawn)
        self.no_n.add(*self.n_key(request), got)
        if self._n_probes:
            self._heard(request)
        log.info("n_ignored", provider=request.model_type, model=request.model, n=size, got=got)
        rest = None if samples is None else samples[got:]
        if got > 1:
            again = await self._draw_in(request, size - got, got, ticket, rest)
        else:
            again = await self._draw_singly(request, size - got, ticket, rest)
        return Drawn([*drawn, *again], refused_records(again))

    def charge(self, record: CallRecord) -> None:
        """Count a call's cost in the meter and the budget."""
        self.meter.charge(record)
        if self.budget is not None:
            self.budget.charge(record)

    def hit(
        self, request: ChatRequest, count: int = 1, *, response: ChatResponse | None = None
    ) -> CallRecord:
        """Count ``count`` cache hits of ``request`` in the meter and the budget; the record
        of each (`hit_record` of ``response``)."""
        self.count_hits(count)
        return self.hit_record(request, response)

    def count_hits(self, count: int) -> None:
        """Count ``count`` cache hits in the meter and the budget."""
        self.meter.hit(count)
        if self.budget is not None:
            self.budget.hit(count)

    def hit_outcomes(
        self, request: ChatRequest, responses: Sequence[ChatResponse]
    ) -> list[Outcome]:
        """Each of ``responses`` (samples of ``request`` all found in the cache) with its
        `hit_record`: the records looked up here, a call less for each sample of a rerun."""
        kept, model_type, model = self._hit_records, request.model_type, request.model
        outcomes: list[Outcome] = []
        for response in responses:
            usage = response.usage
            record = kept.get((model_type, model, usage.input_tokens, usage.output_tokens))
            outcomes.append((response, record or self.hit_record(request, response)))
        return outcomes

    def hit_record(self, request: ChatRequest, response: ChatResponse | None) -> CallRecord:
        """The record of a cache hit: cost 0, ``cached``, with the tokens ``response`` cost
        when it was drawn as ``saved_*_tokens`` (what sending it again would cost)."""
        usage = response.usage if response is not None else Usage()
        # Records are frozen, and a hit's depends on the model and those tokens alone: one
        # serves every such hit (a cached rerun makes thousands).
        slot = (request.model_type, request.model, usage.input_tokens, usage.output_tokens)
        record = self._hit_records.get(slot)
        if record is None:
            if len(self._hit_records) >= _HIT_RECORDS_KEPT:
                self._hit_records.clear()
            record = self._hit_records[slot] = CallRecord(
                model=request.model,
                provider=request.model_type,
                latency_s=0.0,
                input_tokens=0,
                output_tokens=0,
                retries=0,
                cached=True,
                saved_input_tokens=usage.input_tokens,
                saved_output_tokens=usage.output_tokens,
            )
        return record
