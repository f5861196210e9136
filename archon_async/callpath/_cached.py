"""`CachedCalls`: the response cache in front of a `Sender`.

A call is answered from the cache when its sample is there; an identical call in flight is
awaited instead of sent (single flight: the leader shares its response, never its error);
otherwise it is sent and its response kept. Samples are numbered per request key: by the
caller (``sample``/``first``) or by a run's counter, where the j-th identical request of
one run is sample j (``base + j`` for a run that draws anew: see `_samples.DRAW_STRIDE`).
While simulating, the sample numbers are told to the simulator (see `_samples.numbered`),
so a sample reads the same from the cache or from a fresh server.

Across processes on one cache file (see `CacheFile`): a sample about to be sent is claimed
in the file first; one another process has in flight is waited for (polled, from 10 ms up to
0.25 s apart) and then read from the cache; a reply drawn here goes on as the one the file
kept (the first writer's), so every process builds on the samples a rerun will read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import cast

from .._concurrency import gather
from .._endpoints import endpoint_identity
from .._exceptions import ProviderError
from .._types import CallRecord, ChatRequest, ChatResponse
from ._cache import ResponseCache, request_key
from ._sender import Drawn, Outcome, Sender, refused_records

__all__ = ["CachedCalls"]


class CachedCalls:
    """Calls answered from ``cache`` where it can, sent through ``sender`` otherwise.

    Args:
        cache: the response cache.
        sender: what sends the misses (and counts the hits).
    """

    def __init__(self, cache: ResponseCache, sender: Sender) -> None:
        self.cache = cache
        self._sender = sender
        self._inflight: dict[tuple[bytes, int], asyncio.Future[ChatResponse | None]] = {}

    @property
    def simulated_as(self) -> str | None:
        """The endpoint identity of every call while simulating (never a real one's)."""
        return self._sender.simulated_as

    def address(self, request: ChatRequest) -> bytes:
        """The cache key of a request: wire protocol and endpoint identity included."""
        provider = self._sender.opened().provider_for(request.model_type)
        endpoint = endpoint_identity(provider, request, self._sender.simulated_as)
        return request_key(type(provider).__qualname__, endpoint, request)

    async def complete(
        self,
        request: ChatRequest,
        sample: int | None,
        counter: dict[bytes, int] | None,
        ticket: int,
        base: int = 0,
    ) -> tuple[ChatResponse, CallRecord]:
        """Sample ``sample`` of ``request`` (or the run's next, from ``counter``, counted
        from ``base``).

        Raises:
            ProviderError: the call was sent and failed after its retries.
        """
        key = self.address(request)
        if sample is None:
            taken = counter.get(key, 0) if counter is not None else 0
            if counter is not None:
                counter[key] = taken + 1
            sample = base + taken
        cached = self.cache.get(key, sample)
        if cached is not None:
            return cached, self._sender.hit(request, response=cached)
        slot = (key, sample)
        while (leader := self._inflight.get(slot)) is not None:
            # The same sample is being drawn for another run: wait for it (single flight).
            shared = await asyncio.shield(leader)
            if shared is not None:
                return shared, self._sender.hit(request, response=shared)
            # The leader failed (errors are not shared): draw it ourselves.
        future: asyncio.Future[ChatResponse | None] = asyncio.get_running_loop().create_future()
        self._inflight[slot] = future
        outcomes: list[Outcome | None] = [None]
        # One sample goes alone (no n to refuse): nothing lands in the refused list.
        await self._draw_own(request, key, sample, {0: future}, outcomes, ticket, [])
        outcome = outcomes[0]
        assert outcome is not None  # _draw_own fills every slot it leads
        if isinstance(outcome, ProviderError):
            raise outcome
        return outcome

    async def samples(
        self,
        request: ChatRequest,
        count: int,
        first: int | None,
        counter: dict[bytes, int] | None,
        ticket: int,
        base: int = 0,
    ) -> list[Outcome]:
        """Samples ``first`` .. ``first + count - 1`` (``first`` default: the run's next,
        counted from ``base``); per sample its response and record or the error its
        request met."""
        key = self.address(request)
        if first is None:
            first = base + (counter.get(key, 0) if counter is not None else 0)
        if counter is not None:
            counter[key] = max(counter.get(key, 0), first - base + count)
        found, hits = self.cache.lookup(key, first, count)
        if hits:
            self._sender.count_hits(hits)
        if hits == count:  # a cached rerun: no task, no future
            return self._sender.hit_outcomes(request, cast(list[ChatResponse], found))
        record = self._sender.hit_record
        outcomes: list[Outcome | None] = [
            (response, record(request, response)) if response else None for response in found
        ]
        missing = [i for i, response in enumerate(found) if response is None]
        led = [i for i in missing if (key, first + i) in self._inflight]
        own = [i for i in missing if (key, first + i) not in self._inflight]
        loop = asyncio.get_running_loop()
        futures = {i: loop.create_future() for i in own}
        for i, future in futures.items():
            self._inflight[(key, first + i)] = future  # in flight from now: led by this call
        start = first

        async def follow(i: int) -> None:
            try:
                outcomes[i] = await self.complete(request, start + i, None, ticket)
            except ProviderError as exc:
                outcomes[i] = exc

        refused: list[CallRecord] = []  # requests refused for n: sent by this run
        steps: list[Callable[[], Awaitable[None]]] = [
            partial(self._draw_own, request, key, start, futures, outcomes, ticket, refused)
        ]
        steps += [partial(follow, i) for i in led]
        await gather(steps)
        return Drawn((outcome for outcome in outcomes if outcome is not None), refused)

    async def _draw_own(
        self,
        request: ChatRequest,
        key: bytes,
        first: int,
        futures: dict[int, asyncio.Future[ChatResponse | None]],
        outcomes: list[Outcome | None],
        ticket: int,
        refused: list[CallRecord],
    ) -> None:
        """Draw the samples this call leads in this process (``futures``, by offset from
        ``first``): those another process has in flight are waited for (see `CacheFile`);
        the responses the cache keeps are shared with the calls waiting here."""
        shared: dict[int, ChatResponse] = {}
        try:
            numbers = [first + i for i in futures]
            draw = _Draw(self, request, key, first, outcomes, ticket, refused)
            await draw.fill(numbers)
            for i in futures:
                outcome = outcomes[i]
                if outcome is not None and not isinstance(outcome, ProviderError):
                    shared[i] = outcome[0]
        finally:
            for i, future in futures.items():
                del self._inflight[(key, first + i)]
                future.set_result(shared.get(i))


class _Draw:
    """The samples of one request that one call leads, claimed in the cache file and sent
    here or waited for from another process; ``outcomes`` is filled by offset from
    ``first`` and ``refused`` gets the records of requests refused for ``n`` (see `Drawn`)."""

    __slots__ = ("calls", "first", "key", "outcomes", "refused", "request", "ticket")

    def __init__(
        self,
        calls: CachedCalls,
        request: ChatRequest,
        key: bytes,
        first: int,
        outcomes: list[Outcome | None],
        ticket: int,
        refused: list[CallRecord],
    ) -> None:
        self.calls = calls
        self.request = request
        self.key = key
        self.first = first
        self.outcomes = outcomes
        self.ticket = ticket
        self.refused = refused

    async def fill(self, numbers: list[int], delay: float = 0.0) -> None:
        """Samples ``numbers``: claimed and sent by this process, or taken from the cache
        where another one stored them."""
        if not numbers:
            return
        cache = self.calls.cache
        try:
            claimed = await cache.claim(self.key, numbers)
        except BaseException:  # cancelled: a claim made meanwhile would hold others back
            cache.release(self.key, numbers)
            raise
        hit = self.calls._sender.hit
        for number, response in claimed.found.items():  # another process drew it meanwhile
            self.outcomes[number - self.first] = (response, hit(self.request, response=response))
        steps: list[Callable[[], Awaitable[None]]] = []
        if claimed.mine:
            steps.append(partial(self.send, claimed.mine))
        if claimed.busy:
            # In flight in another process: look again after a while, growing to 0.25 s.
            steps.append(partial(self.wait, claimed.busy, min(max(delay * 1.5, 0.01), 0.25)))
        await gather(steps)

    async def wait(self, numbers: list[int], delay: float) -> None:
        await asyncio.sleep(delay)
        await self.fill(numbers, delay)

    async def send(self, numbers: list[int]) -> None:
        """Send the samples ``numbers`` this process claimed; keep what succeeded and go on
        with what the cache holds (the first writer's sample: the same in every process)."""
        calls, key, first, outcomes = self.calls, self.key, self.first, self.outcomes
        told = numbers if calls.simulated_as is not None else None
        try:
            drawn = await calls._sender.draw(self.request, len(numbers), self.ticket, told)
        except BaseException:
            calls.cache.release(key, numbers)  # cancelled: nobody waits for the lease
            raise
        self.refused += refused_records(drawn)
        kept: list[int] = []
        replies: list[ChatResponse] = []
        failed: list[int] = []
        for number, outcome in zip(numbers, drawn, strict=True):
            outcomes[number - first] = outcome
            if isinstance(outcome, ProviderError):
                failed.append(number)
            else:
                kept.append(number)
                replies.append(outcome[0])
        if failed:
            calls.cache.release(key, failed)  # errors are not kept: another may send it
        if kept:
            winners = await calls.cache.keep(key, kept, replies)
            for number, winner in zip(kept, winners, strict=True):
                drawn_here = outcomes[number - first]
                assert drawn_here is not None and not isinstance(drawn_here, ProviderError)
                if winner is not drawn_here[0]:  # another process's sample was kept first
                    outcomes[number - first] = (winner, drawn_here[1])
