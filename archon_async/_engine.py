"""`Engine`: runs an architecture, layer after layer, as concurrent coroutines."""

from __future__ import annotations

import asyncio
import functools
import os
import random
import threading
import time
import weakref
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Iterable,
    Mapping,
    Sequence,
)
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

import anyio

from ._admission import current_ticket, next_ticket
from ._architecture import Architecture, is_reward_model
from ._batch_budget import BudgetGate, budget_gate
from ._batch_io import BatchItem
from ._batch_outage import DEFAULT_WAIT_S
from ._config import ProviderSettings, format_location
from ._dispatch import Dispatcher
from ._endpoints import check_base_urls
from ._exceptions import (
    ArchonError,
    ComponentError,
    ConfigError,
    LayerFailedGroup,
)
from ._keys import KeysArgument
from ._layer import LayerPlan, run_layer
from ._logging import bind_log_context, get_logger, reset_log_context
from ._loop_thread import LoopThread, close_home, closes_with_loop
from ._registry import Registry
from ._run_calls import RunCalls, RunContexts, RunKey
from ._scoring import HttpScorer
from ._streaming import AnswerStream, DeltaCallback, OnDelta, RunOptions
from ._trace import FinalChoice, Result, Trace, call_sink
from ._types import normalize_messages
from .callpath import Budget, CallPath, ResponseCache
from .callpath._budget import checked_budget
from .callpath._callpath import validated_settings
from .callpath._samples import check_draw, check_seed
from .core import Scorer

if TYPE_CHECKING:
    from .callpath import RedisLimits
    from .simulate import SimulationSettings

__all__ = ["Engine"]

log = get_logger(__name__)


class Engine:
    """Runs an architecture: ``async with Engine(arch) as engine: await engine.generate(q)``.

    An engine is an architecture bound to a `CallPath` (clients, limits, key pools, cache,
    budget): given ``callpath=``, it shares that one with every other engine and thread on
    it; given none, it builds a private one from ``keys``, ``providers``, ``simulate`` and
    ``cache``. All concurrent `generate` calls (and batch prompts) share it. Use the engine
    as an async context manager so that a private call path's connections are closed, or
    call `aclose`.

    Args:
        architecture: an `Architecture`, a path to a JSON config, or a config dict.
        keys: API keys: None (environment and ``.env``), a path to a JSON key file, or a
            dict such as ``{"OPENAI_API_KEY": ["sk-1", "sk-2"]}``.
        providers: per-model_type settings in code; they override the config's section.
        registry: components and providers to use; defaults to the architecture's.
        seed: seeds every random choice (the final pick among candidates included).
        scorers: scoring backends for reward-model rankers, by model name.
        simulate: True (or `SimulationSettings`) to run every call against an in-process
            simulated provider, needing no key; or the URL of a running simulated server.
        callpath: a shared `CallPath`; then keys, providers, simulate and cache are its own.
        cache: a `ResponseCache` or the path of an SQLite cache file (private call path).
        budget: caps on what this engine's runs spend (`Budget`); a run that would start
            past a cap raises `BudgetExceededError`.
        shared_limits: a `RedisLimits` or a Redis URL (private call path): its rate limits
            are held together with every other engine and process sharing that Redis and
            prefix.

    Raises:
        ConfigError: the architecture is invalid or needs something that is missing, or
            a budget (``budget`` or the call path's) caps dollars on a model it has no
            price for (`Budget.refuse_unpriced`).
        InvalidInputError: ``seed`` is not a whole number.
    """

    def __init__(
        self,
        architecture: Architecture | str | Path | Mapping[str, Any],
        *,
        keys: KeysArgument = None,
        providers: Mapping[str, ProviderSettings | Mapping[str, Any]] | None = None,
        registry: Registry | None = None,
        seed: int = 0,
        scorers: Mapping[str, Scorer] | None = None,
        simulate: bool | str | SimulationSettings = False,
        callpath: CallPath | None = None,
        cache: ResponseCache | str | Path | None = None,
        budget: Budget | None = None,
        shared_limits: RedisLimits | str | None = None,
    ) -> None:
        self.architecture = _as_architecture(architecture, registry)
        self._registry = registry or self.architecture.registry
        check_seed(seed, "Engine(seed=...)")
        self._seed = seed
        self._scorers: dict[str, Any] = dict(scorers or {})
        self._layers = self._build_layers()
        # The options of a run that overrides nothing (a batch's every prompt), built once.
        self._plain_options = RunOptions.build(
            self.architecture.layers, temperature=None, max_tokens=None, on_delta=None
        )
        self._budget = checked_budget(budget, "Engine(budget=...)")
        self._gate: tuple[tuple[Budget | None, Budget | None], BudgetGate] | None = None
        self._owns_callpath = callpath is None
        if callpath is None:
            settings = validated_settings(providers, self.architecture.providers)
            callpath = CallPath(
                keys=keys,
                providers=settings,
                registry=self._registry,
                simulate=simulate,
                cache=cache,
                shared_limits=shared_limits,
            )
        elif not isinstance(callpath, CallPath):
            raise ConfigError(
                f"Engine(callpath=...) takes a CallPath, not {type(callpath).__name__}: "
                "for a response cache file, give cache=PATH (or CallPath(cache=PATH))"
            )
        elif (keys, cache, shared_limits) != (None, None, None) or providers or simulate:
            raise ConfigError(
                "an Engine given a callpath takes its keys, providers, simulate, cache and "
                "shared_limits from it: give them to the CallPath instead"
            )
        for where, capped in (
            ("Engine(budget=...)", budget),
            ("the CallPath's budget", callpath.budget),
        ):
            if capped is not None:
                capped.refuse_unpriced(self.architecture, where)
        self._callpath = callpath
        self._adopted = False
        self._sync_lock = threading.Lock()
        self._home: LoopThread | None = None  # the loop thread of generate_sync
        self._close_home: weakref.finalize[Any, Any] | None = None
        self._loop_guard: AsyncGenerator[None, None] | None = None
        self._owned_scorers: list[HttpScorer] = []
        if not callpath.simulated:
            self._check_scorers(os.environ.get("PAIRRM_BASE_URL"))

    def __repr__(self) -> str:
        return f"Engine({self.architecture!r}, simulate={self._callpath.simulated})"

    @property
    def simulated(self) -> bool:
        """Whether every call goes to a simulated provider (in process or at a URL): its
        answers are not a model's, and batch files and summaries say so."""
        return bool(self._callpath.simulated)

    def _build_layers(self) -> list[LayerPlan]:
        # The architecture's layers as every run reads them, worked out once (a plan).
        return [
            LayerPlan([(spec, self._registry.build_component(spec)) for spec in layer])
            for layer in self.architecture.layers
        ]

    def _check_scorers(self, scorer_url: str | None) -> None:
        for index, layer in enumerate(self.architecture.layers):
            for position, spec in enumerate(layer):
                if not is_reward_model(spec) or spec.model in self._scorers:
                    continue
                if scorer_url:
                    scorer = HttpScorer(scorer_url, model=spec.model)
                    self._owned_scorers.append(scorer)
                    self._scorers[spec.model] = scorer
                    continue
                needs = f"{spec.model} ranks with a reward model, which needs a scoring backend: "
                raise ConfigError(
                    f"{needs}pass scorers={{{spec.model!r}: ...}} to Engine, set "
                    "PAIRRM_BASE_URL to a scoring server, or run with simulate=True",
                    source=self.architecture.source,
                    location=format_location(("layers", index, position, "model")),
                    cli_hint=f"{needs}set PAIRRM_BASE_URL to a scoring server (POST /score), "
                    "or add --simulate",
                )

    @property
    def seed(self) -> int:
        """The seed of every random choice, unless `generate` is given another."""
        return self._seed

    @property
    def is_open(self) -> bool:
        """Whether the engine's call path is open and has taken on its architecture."""
        return self._adopted and self._callpath.is_open

    @property
    def budget(self) -> Budget | None:
        """This engine's own budget (the call path may have one too), or None."""
        return self._budget

    @property
    def callpath(self) -> CallPath:
        """The call path this engine draws from (private or shared)."""
        return self._callpath

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher of the engine's call path (opened on first use)."""
        if not self.is_open:
            raise ArchonError("the engine is not open: use 'async with Engine(...)'")
        return self._callpath.dispatcher

    async def __aenter__(self) -> Engine:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Open the call path (and the simulator) if needed; `generate` does it when needed.

        Raises:
            ConfigError: a hosted provider the architecture calls has no key.
        """
        if self._adopted and self._callpath.is_open:
            return
        await self._callpath.open()
        if self._callpath.simulated:
            self._check_scorers(self._callpath.scorer_url)
        # A hosted provider without a key fails here, before any call (PairRM rankers are
        # scored by a backend, whatever their model_type says).
        layers = self.architecture.layers
        called = [s.model_type for ss in layers for s in ss if not is_reward_model(s)]
        self._callpath.adopt(
            called,
            self.architecture.providers,
            self._registry,
            source=self.architecture.source,
            owner=self,
        )
        if not self._callpath.simulated:
            # A self-hosted server without a base URL fails here too, naming the component.
            dispatcher = self._callpath.dispatcher
            settings = {model_type: dispatcher.settings_for(model_type) for model_type in called}
            check_base_urls(
                layers,
                settings,
                self._registry,
                self.architecture.source,
                keyed=dispatcher.has_keys,
            )
        self._adopted = True
        await self._guard_loop()

    async def _guard_loop(self) -> None:
        """Close a private call path before the loop that opened it ends.

        Connection pools belong to the loop they were opened on: an engine opened by
        ``generate()`` in one ``asyncio.run()`` must not carry them into the next, nor leak
        them at exit. ``asyncio.run`` (and ``anyio.run``) finalize the loop's async
        generators before closing it, so a started generator whose ``finally`` closes the
        engine is the loop's own end-of-life hook.
        """
        if not self._owns_callpath or self._loop_guard is not None:
            return
        if self._home is not None and self._home.loop is asyncio.get_running_loop():
            return  # the loop thread of generate_sync is closed by close()
        guard = closes_with_loop(weakref.ref(self))
        await guard.asend(None)
        self._loop_guard = guard

    async def aclose(self) -> None:
        """Close the scorers it opened, and its call path if it is its own (a shared one
        stays open for the others)."""
        with anyio.CancelScope(shield=True):
            guard, self._loop_guard = self._loop_guard, None
            if guard is not None:
                await guard.aclose()  # finalized now, not by a loop that may be gone
            if self._owns_callpath:
                await self._callpath.aclose()
            for scorer in self._owned_scorers:
                await scorer.aclose()
            # Scorers it made are made again on the next open (a simulator's URL changes).
            owned = {id(scorer) for scorer in self._owned_scorers}
            self._scorers = {k: v for k, v in self._scorers.items() if id(v) not in owned}
            self._owned_scorers.clear()
            self._adopted = False

    async def generate(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        *,
        seed: int | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        on_delta: OnDelta | None = None,
        draw: int = 0,
        top_p: float | None = None,
    ) -> Result:
        """Answer a prompt (a string or an OpenAI-style message list) with the architecture.

        Every component of a layer, and every sample of a component, runs concurrently;
        cancelling this call cancels every call it started.

        Under a budget (the engine's or its call path's) a prompt starts by the rule of a
        batch's prompts (`archon_async._batch_budget.BudgetGate`, one function for both):
        only if the calls it makes at the least (its generators' and fusers' samples, its
        critics' and rankers' calls) fit beside those the prompts in flight on that budget
        (this engine's, other engines', batches') are still due to make, and under a token
        or dollar cap, if its share (the average of the prompts finished) fits beside
        theirs; a prompt whose share is not known yet runs alone. A prompt that may fit
        once those in flight end waits for them; one that cannot is refused before any
        call. So a 12-call prompt at 12 calls of 20 does not start, where a check of the
        spend alone let it end at 24; only a prompt's calls beyond its least (parse
        retries, failed calls) go over a cap.

        Args:
            messages: the prompt, or the conversation to answer.
            seed: the seed of this run's random choices (default: the engine's).
            temperature: overrides the answer layer's temperature (see `_streaming`).
            max_tokens: overrides the answer layer's completion budget.
            top_p: overrides the answer layer's nucleus sampling (0 to 1), as temperature.
            on_delta: a callable (async or not) given the answer's text as it is written: streamed
                from the provider when the final layer is a single one-sample generator or
                fuser, otherwise the chosen answer in one piece.
            draw: which independent answer to the prompt (a race pass of the search): with a
                response cache, draw ``d`` asks samples of its own (numbered from ``d`` *
                2**32), the same for every architecture asking draw ``d``; draw 0 is the
                usual numbering. Independent only where the model samples (temperature
                above 0): at temperature 0 a real model answers the same again.

        Raises:
            InvalidInputError: the messages, overrides, ``seed`` or ``draw`` are malformed
                (before any call).
            BudgetExceededError: the engine's or the call path's budget has no room for
                this prompt (before any call: see above); the runs in flight finish.
            LayerFailedGroup: every component of a layer failed.
            ComponentError: the architecture left no candidate.
        """
        conversation = normalize_messages(messages)
        check_draw(draw)
        if seed is not None:
            check_seed(seed, "generate(seed=...)")
        if call_sink.get() is None and (gate := self._run_gate()):
            # A prompt of its own, admitted as a batch admits each of its prompts (whose
            # runs come here admitted, their calls listed in call_sink).
            run = functools.partial(
                self.generate, conversation, seed=seed, temperature=temperature,
                max_tokens=max_tokens, on_delta=on_delta, draw=draw, top_p=top_p,
            )  # fmt: skip
            return await gate.run(run)
        options = self._run_options(temperature, max_tokens, on_delta, top_p)
        if not (self._adopted and self._callpath.is_open):
            await self.open()  # a coroutine a prompt only when there is something to open
        run_seed = self._admit(seed)
        # Hashed only if a choice is drawn (several candidates left, a component's rng).
        run_key = RunKey(run_seed, conversation)
        trace = Trace()
        started = time.perf_counter()
        # Calls of runs that started earlier are admitted first (see _admission); a caller
        # that set a ticket (a batch prompt, over its turns and attempts) keeps its place.
        ticket = None if current_ticket.get() else current_ticket.set(next_ticket())
        calls = RunCalls(self._callpath, self._budget, draw)  # numbers this run's samples
        state: dict[str, Any] = {"candidates": [], "critiques": [], "unit_tests": []}
        # bind + reset, not bound_contextvars(): that one copies the whole context first
        # (about 4x the CPU, once per prompt; bench/RESULTS.md, "Wire hot path").
        bound = bind_log_context(architecture=self.architecture.name)
        try:
            try:
                plan = self._layers
                make_context = RunContexts(
                    conversation, run_key, plan, options, calls, self._scorers
                )
                # Awaited here, not in a method of its own: a coroutine level less that
                # every loop turn of every call passes through. By position: a range's
                # iterator is not tracked by the garbage collector, enumerate's and the
                # list's are (alive while every prompt's calls are).
                for index in range(len(plan)):
                    with options.layer(index):
                        state, layer_trace = await run_layer(
                            index, plan[index], state, make_context
                        )
                    trace.layers.append(layer_trace)
            finally:
                reset_log_context(bound)
            result = self._result(state, trace, run_key)
            await options.finish(result.text)
            return result
        except ArchonError as exc:
            if isinstance(exc, LayerFailedGroup) and exc.layer_trace is not None:
                trace.layers.append(exc.layer_trace)
            exc.trace = trace  # what the run did before it failed: its calls were made
            raise
        finally:
            trace.elapsed_s = time.perf_counter() - started
            if ticket is not None:
                current_ticket.reset(ticket)

    def _run_options(
        self,
        temperature: float | None,
        max_tokens: int | None,
        on_delta: OnDelta | None,
        top_p: float | None = None,
    ) -> RunOptions:
        """What a run changes in the architecture (answer layer's overrides, streaming)."""
        if temperature is None and max_tokens is None and on_delta is None and top_p is None:
            return self._plain_options  # a batch's every prompt: the same, built once
        return RunOptions.build(
            self.architecture.layers,
            temperature=temperature,
            max_tokens=max_tokens,
            on_delta=on_delta,
            top_p=top_p,
        )

    def _admit(self, seed: int | None) -> int:
        """Check the budgets before a run starts; the run's seed.

        Raises:
            BudgetExceededError: the engine's or the call path's budget is spent.
        """
        self._callpath.check_budget()
        if self._budget is not None:
            self._budget.check()
        return self._seed if seed is None else seed

    def _run_gate(self) -> BudgetGate | None:
        """The gate of this engine's prompts of their own (not a batch's), under its budget
        and its call path's; None while neither has one."""
        budgets = (self._budget, self._callpath.budget)
        if budgets == (None, None):
            return None
        if self._gate is None or self._gate[0] != budgets:  # a call path's budget is settable
            self._gate = (budgets, budget_gate(self))
        return self._gate[1]

    def _result(self, state: Mapping[str, Any], trace: Trace, key: RunKey) -> Result:
        candidates = tuple(state.get("candidates") or ())
        if not candidates:
            raise ComponentError(
                "the architecture left no candidate answer: its last layer must write candidates"
            )
        index = 0
        if len(candidates) > 1:
            index = random.Random(key.text()).randrange(len(candidates))
            trace.final_choice = FinalChoice(candidates=len(candidates), index=index, seed=key.seed)
        return Result(text=candidates[index], candidates=candidates, trace=trace)

    def stream(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        *,
        seed: int | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
    ) -> AnswerStream:
        """The answer as it is written: ``async for chunk in engine.stream(messages)``.

        Each chunk's ``text`` is the next piece of the answer; the last chunk carries the
        `Result` (trace and usage), as `generate` returns it. Arguments and errors are
        `generate`'s; leaving the loop early cancels the run.
        """

        def run(on_delta: DeltaCallback) -> Awaitable[Result]:
            return self.generate(
                messages,
                seed=seed,
                temperature=temperature,
                max_tokens=max_tokens,
                on_delta=on_delta,
                top_p=top_p,
            )

        return AnswerStream(run)

    def generate_sync(
        self, messages: str | Sequence[Mapping[str, Any]], *, seed: int | None = None
    ) -> Result:
        """`generate` for scripts, threads and notebooks.

        The engine runs on an event-loop thread of its own, opened on the first call and
        kept (with its connections) until `close` or the end of the program: any number of
        threads may call this at once on one engine, and their calls run concurrently under
        the same limits. Inside a running event loop (a notebook) it works the same way.

        Raises:
            ArchonError: as `generate`, or when the engine is open in async code (use
                ``await engine.generate()`` there).
        """
        home = self._sync_home()
        return home.run(self.generate(messages, seed=seed))

    def close(self) -> None:
        """Close an engine used through `generate_sync`: its connections and its loop
        thread (also done at exit). ``with Engine(...) as engine:`` calls it."""
        with self._sync_lock:
            self._home, finalizer = None, self._close_home
            self._close_home = None
        if finalizer is not None:
            finalizer()

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _sync_home(self) -> LoopThread:
        with self._sync_lock:
            if self._home is not None:
                return self._home
            if self._owns_callpath and self.is_open:
                raise ArchonError(
                    "this engine is open in async code: use 'await engine.generate()' there"
                )
            home = self._home = LoopThread(name=f"archon-engine-{id(self):x}")
            # Closed by close(), or when the engine is collected, or at exit: whichever
            # comes first (the finalizer holds what to close, not the engine).
            self._close_home = weakref.finalize(
                self, close_home, home, self._callpath if self._owns_callpath else None,
                self._owned_scorers,
            )  # fmt: skip
            return home

    def batch(
        self,
        items: Iterable[BatchItem | Mapping[str, Any]] | str | Path,
        *,
        output: str | Path,
        concurrency: int = 64,
        retry_errors: bool = True,
        progress: TextIO | None = None,
        budget: Budget | None = None,
        starts_per_turn: int = 1,
        provider_down_wait_s: float = DEFAULT_WAIT_S,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Answer many prompts, streaming each answer line as it is written to ``output``.

        ``async for line in engine.batch(items, output="answers.jsonl"): ...`` is the CLI's
        batch runner: at most ``concurrency`` prompts in flight (memory stays bounded),
        every prompt ends as an answer or an error line, and run again with the same
        output it resumes (finished ids are skipped and not yielded again). See
        `archon_async._batch_api.run_batch_iter` for the arguments.

        ``budget`` caps this batch (on top of the engine's own): a prompt starts only while
        its share fits, those in flight finish, and `BatchBudgetExceededError` says so; a
        rerun with a new budget goes on.

        ``starts_per_turn`` is how many prompts may start in one turn of the event loop.
        The default, 1, keeps the loop's lag low for whatever else runs on it (an asyncio
        service); a process that runs only the batch may pass more, as the ``batch``
        command does (8): fewer loop turns a prompt, up to a third less client CPU a call,
        and 3-4x the loop's lag under a saturated batch (bench/RESULTS.md, "Measure 3,
        ninth pass").

        ``provider_down_wait_s`` is how long the batch waits for a provider that is down
        (its model's circuit open, and no ``unavailable`` fallback): meanwhile no prompt
        starts and the prompts that failed on it are held, not written; past it, the batch
        stops and `BatchStoppedError.provider_down` names the model (the same call on the
        same output goes on). See `archon_async._batch_outage`.

        Raises:
            InvalidInputError: bad items (every bad one named; ``items`` neither a path nor
                an iterable of prompts, a dict included), an unusable output, or a
                ``provider_down_wait_s`` below 0.
            BatchStoppedError: a failure every prompt would meet, or a provider down past
                ``provider_down_wait_s``, stopped the batch.
            BatchBudgetExceededError: a budget (this batch's, the engine's or its call
                path's) stopped it; also a `BudgetExceededError` (see `run_batch`).
            ConfigError: ``budget`` caps dollars on a model it has no price for.
        """
        from ._batch import check_batch_arguments
        from ._batch_api import check_items, run_batch_iter
        from ._batch_outage import check_wait

        check_batch_arguments(concurrency, budget, starts_per_turn)
        check_wait(provider_down_wait_s)
        check_items(items)
        if budget is not None:
            budget.refuse_unpriced(self.architecture, "Engine.batch(budget=...)")
        return run_batch_iter(
            self,
            items,
            output=Path(output),
            concurrency=concurrency,
            retry_errors=retry_errors,
            progress=progress,
            budget=budget,
            starts_per_turn=starts_per_turn,
            provider_down_wait_s=provider_down_wait_s,
        )


def _as_architecture(value: Any, registry: Registry | None) -> Architecture:
    if isinstance(value, Architecture):
        return value
    if isinstance(value, str | Path):
        return Architecture.from_file(value, registry=registry)
    if isinstance(value, Mapping):
        return Architecture.from_dict(value, registry=registry)
    raise ConfigError(
        f"Engine needs an Architecture, a config path or a dict, got {type(value).__name__}"
    )
