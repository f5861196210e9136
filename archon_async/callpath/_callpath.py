"""`CallPath`: the shared call path (see the package docstring for the API and its rules).

One call through it: budget meter -> response cache (sample j of the request's key; an
identical call in flight is awaited instead of sent: single flight) -> the model_type's
priority gate (at most ``max_concurrency`` in flight, oldest run first) -> the dispatcher
(key lease, rpm/tpm buckets, retries). Everything runs on the home loop; calls from other
loops are forwarded to it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import hashlib
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from .._admission import PriorityGate, current_ticket
from .._concurrency import gather
from .._config import ProviderSettings
from .._dispatch import Dispatcher, DispatchStatistics
from .._exceptions import ArchonError, ConfigError, ProviderError
from .._keys import KeysArgument, hidden_keys
from .._logging import get_logger
from .._registry import Registry
from .._types import CallRecord, ChatRequest, ChatResponse
from ._budget import Budget, BudgetSnapshot
from ._cache import ResponseCache, request_key
from ._redis import RedisLimits
from ._samples import NRefusals, chunk_sizes, refuses_n, sample_records

if TYPE_CHECKING:
    from ..simulate import SimulationSettings

__all__ = ["CallPath", "simulated_base_urls"]

T = TypeVar("T")
#: A sample's outcome: its response and record, or the error its request met.
Outcome = tuple[ChatResponse, CallRecord] | ProviderError

log = get_logger(__name__)

# Key names handed to providers when running on the simulated provider, which accepts any key.
_SIMULATED_KEYS = {
    name: ["sim-key"]
    for name in (
        "OPENAI_API_KEY",
        "TOGETHER_API_KEY",
        "GROQ_API_KEY",
        "ANTHROPIC_API_KEY",
        "GOOGLE_API_KEY",
        "BEDROCK_API_KEY",
    )
}
_OPENAI_WIRE = {"OpenAI_API", "Together_API", "Groq_API", "tgi", "vLLM", "OpenAI_Compatible"}


def simulated_base_urls(root: str) -> dict[str, str]:
    """The base URL of every built-in model_type on a simulated server at ``root``."""
    root = root.rstrip("/")
    urls = dict.fromkeys(_OPENAI_WIRE, f"{root}/v1")
    urls.update({"Anthropic_API": root, "Google_API": root, "Bedrock_API": root})
    return urls


def _check_simulate(simulate: object) -> None:
    """Refuse a ``simulate=`` that is neither a flag, settings, nor a simulator's URL.

    Raises:
        ConfigError: e.g. ``simulate="true"``, which would otherwise be taken for a URL.
    """
    if isinstance(simulate, bool):
        return
    if isinstance(simulate, str) and simulate.startswith(("http://", "https://")):
        return
    from ..simulate import SimulationSettings  # only now: it brings the server's imports

    if isinstance(simulate, SimulationSettings):
        return
    raise ConfigError(
        "simulate must be True or False, a SimulationSettings, or the URL of a running "
        f"simulated provider (http://...); got {simulate!r}"
    )


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
        shared_limits: a `RedisLimits`: the rpm/tpm buckets and 429 cooldowns are also
            shared with every other process using the same Redis server and prefix.

    Raises:
        ConfigError: invalid provider settings.
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
        shared_limits: RedisLimits | None = None,
    ) -> None:
        self._keys = hidden_keys(keys)
        _check_simulate(simulate)
        self.shared_limits = shared_limits
        self._settings = validated_settings(providers)
        self._registry = (registry or Registry.default()).copy()
        self._simulate = simulate
        self.cache = cache if isinstance(cache, ResponseCache | None) else ResponseCache(cache)
        self.budget = budget
        self._meter = Budget()  # what everything on this call path spent, capped or not
        self._lock = threading.Lock()
        self._ready: concurrent.futures.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._dispatcher: Dispatcher | None = None
        self._gates: dict[str, PriorityGate] = {}
        self._inflight: dict[tuple[bytes, int], asyncio.Future[ChatResponse | None]] = {}
        self._simulator: Any = None
        self._sim_identity = ""
        self._adopted: set[int] = set()
        self._no_n = NRefusals()
        self.scorer_url: str | None = None

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return (
            f"CallPath({state}, simulate={bool(self._simulate)}, cache={self.cache!r}, "
            f"budget={self.budget!r})"
        )

    @property
    def is_open(self) -> bool:
        """Whether the call path is open (its clients and limits exist)."""
        ready = self._ready
        return ready is not None and ready.done() and ready.exception() is None

    @property
    def simulated(self) -> bool:
        """Whether calls go to the simulated provider."""
        return bool(self._simulate)

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher (keys, limits, retries) of an open call path.

        Raises:
            ArchonError: the call path is not open.
        """
        if self._dispatcher is None:
            raise ArchonError("the call path is not open: use 'async with CallPath(...)'")
        return self._dispatcher

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
        keys = self._keys
        factory: type[Dispatcher] = Dispatcher
        urls: dict[str, str] = {}
        if self._simulate:
            root = await self._start_simulator()
            urls = simulated_base_urls(root)
            keys = keys if keys is not None else _SIMULATED_KEYS
            self.scorer_url = root
            factory = _SimulatedDispatcher
        dispatcher = factory(self._registry, settings=self._settings, keys=keys)
        if isinstance(dispatcher, _SimulatedDispatcher):
            dispatcher.simulator_urls = urls
        if self.shared_limits is not None:
            dispatcher.limits_factory = self.shared_limits.for_provider
        self._dispatcher = dispatcher

    async def _start_simulator(self) -> str:
        if isinstance(self._simulate, str):
            self._sim_identity = f"simulated:{self._simulate}"
            return self._simulate
        from ..simulate import SimulatedServer, SimulationSettings

        settings = self._simulate if isinstance(self._simulate, SimulationSettings) else None
        settings = settings or SimulationSettings()
        # The simulator's replies follow from its settings (seed included), not its port.
        described = settings.model_dump_json(exclude={"port", "host"}).encode()
        self._sim_identity = "simulated:" + hashlib.blake2b(described, digest_size=8).hexdigest()
        server = SimulatedServer(settings)
        await server.__aenter__()
        self._simulator = server
        return str(server.base_url)

    async def aclose(self) -> None:
        """Close every connection pool and the in-process simulator; write the cache out.

        Called from a loop other than the home loop, it is carried out on the home loop."""
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            await self._forward(self.aclose())
            return
        with anyio.CancelScope(shield=True):
            if self._dispatcher is not None:
                await self._dispatcher.aclose()
                self._dispatcher = None
            if self._simulator is not None:
                await self._simulator.__aexit__(None, None, None)
                self._simulator = None
            if self.shared_limits is not None:
                await self.shared_limits.aclose()
            self._gates.clear()
            with self._lock:
                self._ready, self._loop = None, None
            self._adopted.clear()
            if self.cache is not None:
                await anyio.to_thread.run_sync(self.cache.flush)

    def start(self) -> None:
        """Open on a thread of its own (what ``with CallPath(...)`` does), for threads.

        Raises:
            ArchonError: the call path is already open.
        """
        if self._ready is not None:
            raise ArchonError("the call path is already open")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="archon-callpath", daemon=True)
        thread.start()
        self._thread = thread
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
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        loop.close()

    def _check_home(self) -> None:
        """Raise if the home loop is another one that no longer runs.

        Raises:
            ArchonError: the loop that opened the call path has ended.
        """
        loop = self._loop
        if loop is None or loop is asyncio.get_running_loop():
            return
        if loop.is_closed() or not loop.is_running():
            raise ArchonError(
                "the call path's home loop is not running: open it with 'with CallPath(...)' "
                "to share it between threads"
            )

    async def _forward(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the home loop and wait for it from this one."""
        try:
            self._check_home()
        except ArchonError:
            coroutine.close()
            raise
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return await asyncio.wrap_future(future)

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
        return self._meter.spent()

    def statistics(self) -> dict[str, DispatchStatistics]:
        """Limits and key pools of every provider used so far, by model_type."""
        return self._dispatcher.statistics() if self._dispatcher is not None else {}

    async def complete(
        self,
        request: ChatRequest,
        *,
        sample: int | None = None,
        counter: dict[bytes, int] | None = None,
        ticket: int | None = None,
    ) -> tuple[ChatResponse, CallRecord]:
        """Make one call (or answer it from the cache): sample ``sample`` of ``request``.

        Args:
            request: the completion to make.
            sample: which sample of this request it is (for the cache: see the package doc).
            counter: instead of ``sample``, a run's count of its requests by cache key: the
                call is the next sample of its request in that run (what `Engine` passes).
            ticket: the admission ticket of the run it belongs to (default: the current one).

        Raises:
            ProviderError: the call failed after its retries (``call_record`` set).
            ConfigError: the provider is not configured.
        """
        if ticket is None:
            ticket = current_ticket.get()
        ready = self._ready
        if ready is None or not ready.done():
            await self.open()
        if self._loop is not asyncio.get_running_loop():
            return await self._forward(self._complete_home(request, sample, counter, ticket))
        return await self._complete_home(request, sample, counter, ticket)

    async def _complete_home(
        self,
        request: ChatRequest,
        sample: int | None,
        counter: dict[bytes, int] | None,
        ticket: int,
    ) -> tuple[ChatResponse, CallRecord]:
        if self.cache is None:
            return await self._send(request, ticket)
        key = self._address(request)
        if sample is None:
            sample = counter.get(key, 0) if counter is not None else 0
            if counter is not None:
                counter[key] = sample + 1
        cached = self.cache.get(key, sample)
        if cached is not None:
            return cached, self._hit(request)
        slot = (key, sample)
        while (leader := self._inflight.get(slot)) is not None:
            # The same sample is being drawn for another run: wait for it (single flight).
            shared = await asyncio.shield(leader)
            if shared is not None:
                return shared, self._hit(request)
            # The leader failed (errors are not shared): draw it ourselves.
        future: asyncio.Future[ChatResponse | None] = asyncio.get_running_loop().create_future()
        self._inflight[slot] = future
        shared = None
        try:
            response, record = await self._send(request, ticket)
            self.cache.put(key, sample, response)
            shared = response
            return response, record
        finally:
            del self._inflight[slot]
            future.set_result(shared)

    async def complete_samples(
        self,
        request: ChatRequest,
        count: int,
        *,
        first: int | None = None,
        counter: dict[bytes, int] | None = None,
        ticket: int | None = None,
    ) -> list[Outcome]:
        """Samples ``first`` .. ``first + count - 1`` of ``request``: from the cache where
        it has them, the rest in as few requests as the provider allows (see `_samples`).

        Args:
            request: the completion to sample (its ``n`` is ignored).
            count: how many samples.
            first: the first sample's number (default 0, or the run's next from ``counter``).
            counter: a run's count of its requests by cache key (what `Engine` passes).
            ticket: the admission ticket of the run (default: the current one).

        Returns:
            Per sample, in order, its response and record, or the `ProviderError` it met
            (a request's error, shared by its samples, carries its record once).
        """
        if ticket is None:
            ticket = current_ticket.get()
        ready = self._ready
        if ready is None or not ready.done():
            await self.open()
        work = self._samples_home(request, count, first, counter, ticket)
        if self._loop is not asyncio.get_running_loop():
            return await self._forward(work)
        return await work

    async def _samples_home(
        self,
        request: ChatRequest,
        count: int,
        first: int | None,
        counter: dict[bytes, int] | None,
        ticket: int,
    ) -> list[Outcome]:
        if self.cache is None:
            return await self._draw(request, count, ticket)
        key = self._address(request)
        if first is None:
            first = counter.get(key, 0) if counter is not None else 0
        if counter is not None:
            counter[key] = max(counter.get(key, 0), first + count)
        outcomes: list[Outcome | None] = [
            None if hit is None else (hit, self._hit(request))
            for hit in self.cache.get_many(key, first, count)
        ]
        missing = [i for i, outcome in enumerate(outcomes) if outcome is None]
        led = [i for i in missing if (key, first + i) in self._inflight]
        own = [i for i in missing if (key, first + i) not in self._inflight]
        loop = asyncio.get_running_loop()
        futures = {i: loop.create_future() for i in own}
        for i, future in futures.items():
            self._inflight[(key, first + i)] = future

        async def draw_own() -> None:
            shared: dict[int, ChatResponse] = {}
            try:
                drawn = await self._draw(request, len(own), ticket)
                for i, outcome in zip(own, drawn, strict=True):
                    outcomes[i] = outcome
                    if not isinstance(outcome, ProviderError):
                        self.cache.put(key, first + i, outcome[0])  # type: ignore[union-attr]
                        shared[i] = outcome[0]
            finally:
                for i, future in futures.items():
                    del self._inflight[(key, first + i)]
                    future.set_result(shared.get(i))

        async def follow(i: int) -> None:
            try:
                outcomes[i] = await self._complete_home(request, first + i, None, ticket)
            except ProviderError as exc:
                outcomes[i] = exc

        steps: list[Callable[[], Awaitable[None]]] = [draw_own]
        steps += [partial(follow, i) for i in led]
        await gather(steps)
        return [outcome for outcome in outcomes if outcome is not None]

    async def _draw(self, request: ChatRequest, count: int, ticket: int) -> list[Outcome]:
        """Send ``count`` samples: requests of ``n`` where the provider takes it."""
        if count == 0:
            return []
        provider = self.dispatcher.provider_for(request.model_type)
        most = int(getattr(provider, "max_samples_per_request", 1))
        if count == 1 or most <= 1 or (request.model_type, request.model) in self._no_n:
            return await self._draw_singly(request, count, ticket)
        sizes = chunk_sizes(count, most)
        parts = await gather([partial(self._draw_n, request, size, ticket) for size in sizes])
        return [outcome for part in parts for outcome in part]

    async def _draw_singly(self, request: ChatRequest, count: int, ticket: int) -> list[Outcome]:
        async def one() -> Outcome:
            try:
                return await self._send(request, ticket)
            except ProviderError as exc:
                return exc

        return await gather([one] * count)

    async def _draw_n(self, request: ChatRequest, size: int, ticket: int) -> list[Outcome]:
        if size == 1:
            return await self._draw_singly(request, 1, ticket)
        try:
            response, record = await self._send(
                dataclasses.replace(request, n=size), ticket, charge=False
            )
        except ProviderError as exc:
            if exc.call_record is not None:
                self._charge(exc.call_record)
            if not refuses_n(exc):
                return [exc] * size
            self._no_n.add(request.model_type, request.model)
            log.info("n_refused", provider=request.model_type, model=request.model, n=size)
            return await self._draw_singly(request, size, ticket)
        records = sample_records(record, response)
        for each in records:
            self._charge(each)
        return list(zip(response.choices, records, strict=True))

    async def _send(
        self, request: ChatRequest, ticket: int, *, charge: bool = True
    ) -> tuple[ChatResponse, CallRecord]:
        dispatcher = self.dispatcher
        gate = self._gates.get(request.model_type)
        if gate is None:
            capacity = dispatcher.settings_for(request.model_type).max_concurrency
            gate = self._gates[request.model_type] = PriorityGate(capacity)
        await gate.acquire(ticket)
        try:
            response, record = await dispatcher.complete(request)
        except ProviderError as exc:
            if exc.call_record is not None and charge:
                self._charge(exc.call_record)
            raise
        finally:
            gate.release()
        if charge:
            self._charge(record)
        return response, record

    def _charge(self, record: CallRecord) -> None:
        self._meter.charge(record)
        if self.budget is not None:
            self.budget.charge(record)

    def _hit(self, request: ChatRequest) -> CallRecord:
        self._meter.hit()
        if self.budget is not None:
            self.budget.hit()
        return CallRecord(
            model=request.model,
            provider=request.model_type,
            latency_s=0.0,
            input_tokens=0,
            output_tokens=0,
            retries=0,
            cached=True,
        )

    def _address(self, request: ChatRequest) -> bytes:
        """The cache key of a request: wire protocol and endpoint identity included."""
        provider = self.dispatcher.provider_for(request.model_type)
        if self._simulate:
            endpoint = self._sim_identity  # never mixed with a real provider's entries
        else:
            base_url = getattr(provider, "base_url", None)
            endpoint = base_url(request) if callable(base_url) else request.model_type
        return request_key(type(provider).__qualname__, endpoint, request)


class _SimulatedDispatcher(Dispatcher):
    """The dispatcher of a simulating call path: every call goes to the simulator.

    Every built-in model_type's base URL is the simulator's, and a component's own
    ``base_url`` is dropped: a simulated run must never reach a real API, least of all with
    the simulator's key.
    """

    simulator_urls: Mapping[str, str] = {}

    def settings_for(self, model_type: str) -> ProviderSettings:
        settings = super().settings_for(model_type)
        url = self.simulator_urls.get(model_type)
        return settings if url is None else settings.model_copy(update={"base_url": url})

    async def complete(self, request: ChatRequest) -> tuple[ChatResponse, CallRecord]:
        if request.base_url is not None:
            request = dataclasses.replace(request, base_url=None)
        return await super().complete(request)


def validated_settings(
    given: Mapping[str, ProviderSettings | Mapping[str, Any]] | None,
    base: Mapping[str, ProviderSettings] | None = None,
) -> dict[str, ProviderSettings]:
    """``base`` updated with ``given`` (dicts validated into `ProviderSettings`).

    Raises:
        ConfigError: a setting is invalid; names the model_type.
    """
    merged = dict(base or {})
    for model_type, value in (given or {}).items():
        current = merged.get(model_type) or ProviderSettings()
        update = (
            value.model_dump(exclude_unset=True)
            if isinstance(value, ProviderSettings)
            else dict(value)
        )
        try:
            merged[model_type] = ProviderSettings.model_validate(
                {**current.model_dump(exclude_unset=True), **update}
            )
        except ValueError as exc:
            raise ConfigError(
                f"invalid settings: {exc}", location=f"providers[{model_type!r}]"
            ) from None
    return merged
