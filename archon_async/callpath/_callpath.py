"""`CallPath`: the shared call path (see the package docstring for the API and its rules).

One call through it: budget meter -> response cache (`CachedCalls`: sample j of the
request's key; an identical call in flight is awaited instead of sent: single flight) ->
the `Sender` (the model_type's priority gate, then the dispatcher: key lease, rpm/tpm
buckets, retries). Everything runs on the home loop; calls from other loops are forwarded
to it. This module owns the call path's life (open, close, home loop) and its public calls.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from asyncio import _get_running_loop as _running_loop  # None outside a loop
from collections.abc import Callable, Coroutine, Iterable, Mapping
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import anyio

from .._admission import current_ticket
from .._config import ProviderSettings
from .._dispatch import Dispatcher, DispatchStatistics
from .._endpoints import endpoint_identity
from .._exceptions import ArchonError, ConfigError, InvalidInputError
from .._keys import KeysArgument, hidden_keys
from .._registry import Registry
from .._types import CallRecord, ChatRequest, ChatResponse
from ._budget import Budget, BudgetSnapshot, checked_budget
from ._cache import ResponseCache
from ._cached import CachedCalls
from ._home import check_home, forward, start_loop_thread, stop_loop_thread
from ._journal import SpendJournal
from ._redis import RedisLimits
from ._samples import DRAW_STRIDE, check_draw, refusal_scope
from ._sender import Outcome, Sender
from ._settings import validated_settings
from ._simulated import (
    SIMULATED_KEYS,
    SimulatedDispatcher,
    check_simulate,
    simulated_base_urls,
    simulator_identity,
    start_simulator,
)

if TYPE_CHECKING:
    from ..simulate import SimulationSettings

# simulated_base_urls and validated_settings are imported from here too.
__all__ = ["CallPath", "Outcome", "simulated_base_urls", "validated_settings"]

T = TypeVar("T")


class CallPath:
    """Provider clients, limits, key pools, cache and budget shared by many engines.

    Use it as ``async with CallPath(...)`` (its home is the running loop) or, for threads
    and scripts, ``with CallPath(...)`` (its home is a thread of its own); `Engine` opens
    it on first use when nobody did.

    Args:
        keys: API keys: None (environment and ``.env``), a JSON key file path, or a dict
            such as ``{"OPENAI_API_KEY": ["sk-1", "sk-2"]}``.
        providers: per-model_type settings (``rpm``, ``tpm``, ``base_url``...); they win
            over an architecture's ``providers`` section.
        registry: where provider classes are found (default: the built-in registry; an
            architecture's own registry adds the model_types it alone knows).
        simulate: True (or `SimulationSettings`) to send every call to an in-process
            simulated provider; or the URL of a running one.
        cache: a `ResponseCache`, a path to an SQLite cache file, or None for no cache.
        budget: caps on what everything on this call path may spend (see `Budget`).
        shared_limits: a `RedisLimits`, or a Redis URL (``redis://host:6379/0``, as
            ``--shared-limits`` takes it): the rpm/tpm buckets and 429 cooldowns are also
            shared with every other process using the same Redis server and prefix.

    Raises:
        ConfigError: invalid provider settings; a cache or shared limits of another kind.
    """

    def __init__(
        self,
        *,
        keys: KeysArgument = None,
        providers: Mapping[str, ProviderSettings | Mapping[str, Any]] | None = None,
        registry: Registry | None = None,
        simulate: bool | str | SimulationSettings = False,
        cache: ResponseCache | str | Path | None = None,
        budget: Budget | None = None,
        shared_limits: RedisLimits | str | None = None,
    ) -> None:
        self._keys = hidden_keys(keys)
        check_simulate(simulate)
        if isinstance(shared_limits, str):
            shared_limits = RedisLimits(shared_limits)
        elif shared_limits is not None and not isinstance(shared_limits, RedisLimits):
            raise ConfigError(
                "shared_limits takes a RedisLimits or a Redis URL such as "
                f"redis://127.0.0.1:6379/0, not {type(shared_limits).__name__}"
            )
        if cache is not None and not isinstance(cache, ResponseCache | str | Path):
            raise ConfigError(
                "cache takes a ResponseCache or the path of its file (created if missing), "
                f"not {type(cache).__name__}"
            )
        self.shared_limits = shared_limits
        self._registry = (registry or Registry.default()).copy()
        self._settings = validated_settings(providers, registry=self._registry)
        self._simulate = simulate
        self._sender = Sender(checked_budget(budget, "CallPath(budget=...)"))
        if cache is not None and not isinstance(cache, ResponseCache):
            cache = ResponseCache(cache)
        self._cached = None if cache is None else CachedCalls(cache, self._sender)
        self._lock = threading.Lock()
        self._ready: concurrent.futures.Future[None] | None = None
        self._opened: concurrent.futures.Future[None] | None = None  # `_ready`, seen open
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._simulator: Any = None
        self._adopted: set[int] = set()
        self.scorer_url: str | None = None

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return (
            f"CallPath({state}, simulate={bool(self._simulate)}, cache={self.cache!r}, "
            f"budget={self.budget!r})"
        )

    def n_key(self, request: ChatRequest) -> tuple[str, str]:
        """What a refusal of ``n`` by ``request``'s endpoint and model is remembered by
        (`Sender.n_key`), known before the call path opens (``--estimate`` looks the
        refusals up by it): a provider with no base URL anywhere, or an unknown model_type,
        is keyed by its model_type."""
        if self._simulate:
            endpoint = simulator_identity(self._simulate)
        else:
            settings = self._settings.get(request.model_type) or ProviderSettings()
            try:
                provider = self._registry.build_provider(request.model_type, settings)
                endpoint = endpoint_identity(provider, request, None)
            except ConfigError:
                endpoint = request.model_type
        return refusal_scope(request.model_type, endpoint), request.model

    @property
    def cache(self) -> ResponseCache | None:
        """The response cache (None: no cache)."""
        return None if self._cached is None else self._cached.cache

    @property
    def budget(self) -> Budget | None:
        """Caps on what everything on this call path may spend (None: no caps)."""
        return self._sender.budget

    @budget.setter
    def budget(self, budget: Budget | None) -> None:
        self._sender.budget = checked_budget(budget, "CallPath.budget")

    @property
    def journal(self) -> SpendJournal | None:
        """Where each request is recorded before it is sent, so that a killed run's spend
        is known to the next (`SpendJournal`; None: not recorded)."""
        return self._sender.journal

    @journal.setter
    def journal(self, journal: SpendJournal | None) -> None:
        self._sender.journal = journal

    @property
    def is_open(self) -> bool:
        """Whether the call path is open (its clients and limits exist)."""
        ready = self._ready
        if ready is None:
            return False
        if ready is self._opened:
            return True  # asked per call: a done future's state no longer needs its lock
        if ready.done() and ready.exception() is None:
            self._opened = ready
            return True
        return False

    @property
    def simulated(self) -> bool:
        """Whether calls go to the simulated provider."""
        return bool(self._simulate)

    @property
    def simulator(self) -> Any:
        """The in-process `SimulatedServer` this open call path started (its stats and
        request log), or None (not simulating, or simulating on a given URL)."""
        return self._simulator

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher (keys, limits, retries) of an open call path.

        Raises:
            ArchonError: the call path is not open.
        """
        return self._sender.opened()

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> CallPath:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __enter__(self) -> CallPath:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def open(self) -> None:
        """Open on the running loop, which becomes the home loop; a call path already open
        (or being opened, on any loop) is waited for."""
        with self._lock:
            ready = self._ready
            opener = ready is None
            if ready is None:
                ready = self._ready = concurrent.futures.Future()
                self._loop = asyncio.get_running_loop()
        if not opener:
            await asyncio.wrap_future(ready)
            self._check_home()
            return
        try:
            await self._open_now()
        except BaseException as exc:
            with self._lock:
                self._ready, self._loop = None, None
            ready.set_exception(exc)
            raise
        ready.set_result(None)

    async def _open_now(self) -> None:
        if self.shared_limits is not None:
            await self.shared_limits.check()  # a server not there: say so before any call
        keys = self._keys
        factory: type[Dispatcher] = Dispatcher
        urls: dict[str, str] = {}
        if self._simulate:
            root, identity, self._simulator = await start_simulator(self._simulate)
            self._sender.simulated_as = identity
            urls = simulated_base_urls(root)
            keys = keys if keys is not None else SIMULATED_KEYS
            self.scorer_url = root
            factory = SimulatedDispatcher
        dispatcher = factory(self._registry, settings=self._settings, keys=keys)
        if isinstance(dispatcher, SimulatedDispatcher):
            dispatcher.simulator_urls = urls
        if self.shared_limits is not None:
            dispatcher.limits_factory = self.shared_limits.for_provider
        self._sender.dispatcher = dispatcher
        if self.cache is not None:
            # One query for what a rerun will look up (see ResponseCache.read_ahead).
            await anyio.to_thread.run_sync(self.cache.read_ahead)
        await self._share_refusals()

    async def _share_refusals(self) -> None:
        """Refusals of ``n`` are kept where other processes look (the cache file, Redis):
        learned from there now (and again while running: from the file while writing to it,
        from Redis before drawing samples, each at most once a second), told there when
        this process meets one, so that no process asks ``n`` of them first."""
        refused = self._sender.no_n
        refused.listeners.clear()
        self._sender.refresh_refusals = None
        if self.cache is not None:
            refused.learn(await anyio.to_thread.run_sync(self.cache.refusals))
            refused.listeners.append(self.cache.remember_refusal)
            self.cache.watch_refusals(refused.learn)
        if self.shared_limits is not None:
            refused.learn(await self.shared_limits.refusals())
            refused.listeners.append(self.shared_limits.remember_refusal)
            # And re-read before samples are drawn (once a second at most), as the file is.
            self._sender.refresh_refusals = partial(
                self.shared_limits.refresh_refusals, refused.learn
            )

    async def aclose(self) -> None:
        """Close every connection pool and the in-process simulator; write the cache out.

        Called from a loop other than the home loop, it is carried out on the home loop."""
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            await self._forward(self.aclose())
            return
        with anyio.CancelScope(shield=True):
            if self._sender.dispatcher is not None:
                await self._sender.dispatcher.aclose()
                self._sender.dispatcher = None
            if self._simulator is not None:
                await self._simulator.__aexit__(None, None, None)
                self._simulator = None
            if self.shared_limits is not None:
                await self.shared_limits.aclose()
            with self._lock:
                self._ready, self._loop = None, None
            self._adopted.clear()
            if self.cache is not None:
                # Every connection closed, the log checkpointed: the file alone is the cache
                # (no -wal/-shm left beside it); it reopens on the next call.
                await anyio.to_thread.run_sync(self.cache.close)

    def start(self) -> None:
        """Open on a thread of its own (what ``with CallPath(...)`` does), for threads.

        Raises:
            ArchonError: the call path is already open.
        """
        if self._ready is not None:
            raise ArchonError("the call path is already open")
        loop, self._thread = start_loop_thread()
        try:
            asyncio.run_coroutine_threadsafe(self.open(), loop).result()
        except BaseException:
            self._stop_thread(loop)
            raise

    def close(self) -> None:
        """Close a call path opened with `start` (what leaving ``with`` does)."""
        loop = self._loop
        if self._thread is None or loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.aclose(), loop).result()
        finally:
            self._stop_thread(loop)
        if self.cache is not None:
            self.cache.close()

    def _stop_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        stop_loop_thread(loop, self._thread)
        self._thread = None

    def _check_home(self) -> None:
        check_home(self._loop)

    async def _forward(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return await forward(self._loop, coroutine)

    # -- architectures -----------------------------------------------------------------------

    def adopt(
        self,
        model_types: Iterable[str],
        settings: Mapping[str, ProviderSettings],
        registry: Registry | None = None,
        *,
        source: str | None = None,
        owner: object = None,
    ) -> None:
        """Take on an architecture's providers: settings for model_types told nothing yet,
        its registry's providers for model_types unknown here; then check that each
        hosted provider it calls has a key (not when simulating).

        Raises:
            ConfigError: a hosted provider has no key (named, with the ways to give one).
        """
        dispatcher = self.dispatcher
        with self._lock:
            if owner is not None and id(owner) in self._adopted:
                return
            for model_type, value in settings.items():
                dispatcher.add_settings(model_type, value)
            called = list(model_types)
            for model_type in called:
                if registry is not None and not self._registry.has_provider(model_type):
                    if registry.has_provider(model_type):
                        self._registry.add_provider(model_type, registry.build_provider)
            if owner is not None:
                self._adopted.add(id(owner))
        if not self._simulate:
            dispatcher.check_keys(called, source=source)

    # -- calls -------------------------------------------------------------------------------

    def check_budget(self) -> None:
        """Raise if the call path's budget is spent (what a prompt checks before it starts).

        Raises:
            BudgetExceededError: a cap is reached.
        """
        if self.budget is not None:
            self.budget.check()

    def spent(self) -> BudgetSnapshot:
        """What every call on this call path spent so far (cache hits counted apart)."""
        return self._sender.meter.spent()

    def statistics(self) -> dict[str, DispatchStatistics]:
        """Limits and key pools of every provider used so far, by model_type."""
        dispatcher = self._sender.dispatcher
        return dispatcher.statistics() if dispatcher is not None else {}

    def complete(
        self,
        request: ChatRequest,
        *,
        sample: int | None = None,
        counter: dict[bytes, int] | None = None,
        ticket: int | None = None,
        draw: int = 0,
    ) -> Coroutine[Any, Any, tuple[ChatResponse, CallRecord]]:
        """Make one call (or answer it from the cache): sample ``sample`` of ``request``.

        Awaited, as a coroutine function's call is: ``await callpath.complete(request)``.

        Args:
            request: the completion to make.
            sample: which sample of this request it is (for the cache: see the package doc).
            counter: instead of ``sample``, a run's count of its requests by cache key: the
                call is the next sample of its request in that run (what `Engine` passes).
            ticket: the admission ticket of the run it belongs to (default: the current one).
            draw: with ``counter``, which independent draw of the run it is: its samples
                count from ``draw * DRAW_STRIDE`` (draw 0: from 0; see `_samples`).

        Raises:
            InvalidInputError: ``draw`` is not a whole number from 0 to 2**31 - 1 (when
                awaited, before any call).
            ProviderError: the call failed after its retries (``call_record`` set).
            ConfigError: the provider is not configured.
        """
        if type(draw) is not int or draw:  # the usual draw, 0, needs no check
            try:
                check_draw(draw)
            except InvalidInputError as error:
                return _refused(error)
        if ticket is None:
            ticket = current_ticket.get()
        base = draw * DRAW_STRIDE
        if self._here():
            return self._one(request, sample, counter, ticket, base)
        return self._open_then(partial(self._one, request, sample, counter, ticket, base))

    def complete_samples(
        self,
        request: ChatRequest,
        count: int,
        *,
        first: int | None = None,
        counter: dict[bytes, int] | None = None,
        ticket: int | None = None,
        draw: int = 0,
    ) -> Coroutine[Any, Any, list[Outcome]]:
        """Samples ``first`` .. ``first + count - 1`` of ``request``: from the cache where
        it has them, the rest in as few requests as the provider allows (see `_samples`).

        Awaited, as a coroutine function's call is.

        Args:
            request: the completion to sample (its ``n`` is ignored).
            count: how many samples.
            first: the first sample's number (default 0, or the run's next from ``counter``).
            counter: a run's count of its requests by cache key (what `Engine` passes).
            ticket: the admission ticket of the run (default: the current one).
            draw: with ``counter``, the run's independent draw (as for `complete`).

        Returns:
            Per sample, in order, its response and record, or the `ProviderError` it met
            (a request's error, shared by its samples, carries its record once).

        Raises:
            InvalidInputError: ``draw`` is not a whole number from 0 to 2**31 - 1 (when
                awaited, before any call).
        """
        if type(draw) is not int or draw:  # the usual draw, 0, needs no check
            try:
                check_draw(draw)
            except InvalidInputError as error:
                return _refused(error)
        if ticket is None:
            ticket = current_ticket.get()
        base = draw * DRAW_STRIDE
        if self._here():
            return self._many(request, count, first, counter, ticket, base)
        return self._open_then(partial(self._many, request, count, first, counter, ticket, base))

    def _here(self) -> bool:
        """Open on the running loop: a call's coroutine is then the sender's (or the
        cache's) own, awaited by the caller itself, with no level of ours between them that
        every loop turn of the call would pass through."""
        ready = self._ready
        return ready is not None and ready is self._opened and self._loop is _running_loop()

    def _one(
        self,
        request: ChatRequest,
        sample: int | None,
        counter: dict[bytes, int] | None,
        ticket: int,
        base: int,
    ) -> Coroutine[Any, Any, tuple[ChatResponse, CallRecord]]:
        if self._cached is None:  # every call is a new draw: nothing numbers its samples
            return self._sender.send(request, ticket)
        return self._cached.complete(request, sample, counter, ticket, base)

    def _many(
        self,
        request: ChatRequest,
        count: int,
        first: int | None,
        counter: dict[bytes, int] | None,
        ticket: int,
        base: int,
    ) -> Coroutine[Any, Any, list[Outcome]]:
        if self._cached is None:
            return self._sender.draw(request, count, ticket)
        return self._cached.samples(request, count, first, counter, ticket, base)

    async def _open_then(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """A call made while the call path is closed or still opening, or from another
        loop: opens it on this loop first, or forwards the call to its home loop."""
        ready = self._ready
        if ready is None or (ready is not self._opened and not ready.done()):
            await self.open()  # closed (or never opened): opens on this loop
        if self._loop is not asyncio.get_running_loop():
            return await self._forward(work())
        return await work()


async def _refused(error: ArchonError) -> NoReturn:
    """What a public call refused before any call returns: a coroutine raising ``error``,
    so that the refusal comes when it is awaited, as a coroutine function's would."""
    raise error
