"""`Engine`: runs an architecture, layer after layer, as concurrent coroutines."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import threading
import time
from collections.abc import Awaitable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import structlog

from ._admission import PriorityGate, current_ticket, next_ticket
from ._architecture import Architecture, is_reward_model
from ._config import ComponentSpec, ProviderSettings, format_location
from ._context import CallContext
from ._dispatch import Dispatcher
from ._exceptions import ArchonError, ComponentError, ConfigError, LayerFailedGroup
from ._keys import hidden_keys
from ._layer import run_layer
from ._registry import Registry
from ._scoring import HttpScorer
from ._streaming import AnswerStream, DeltaCallback, RunOptions
from ._trace import ComponentTrace, FinalChoice, Result, Trace
from ._types import CallRecord, ChatRequest, ChatResponse, Message, normalize_messages
from .core import Component

__all__ = ["Engine"]

log = structlog.get_logger(__name__)

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


class Engine:
    """Runs an architecture: ``async with Engine(arch) as engine: await engine.generate(q)``.

    One engine owns every client, limiter and key pool its calls use; all concurrent
    `generate` calls (and batch prompts) share them. Use it as an async context manager so
    that connections are closed, or call `aclose`.

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

    Raises:
        ConfigError: the architecture is invalid or needs something that is missing.
    """

    def __init__(
        self,
        architecture: Architecture | str | Path | Mapping[str, Any],
        *,
        keys: Any = None,
        providers: Mapping[str, ProviderSettings | Mapping[str, Any]] | None = None,
        registry: Registry | None = None,
        seed: int = 0,
        scorers: Mapping[str, Any] | None = None,
        simulate: Any = False,
    ) -> None:
        self.architecture = _as_architecture(architecture, registry)
        self._registry = registry or self.architecture.registry
        self._seed = seed
        self._keys = hidden_keys(keys)
        self._simulate = simulate
        self._settings = _merged_settings(self.architecture.providers, providers)
        self._scorers: dict[str, Any] = dict(scorers or {})
        self._layers = self._build_layers()
        self._dispatcher: Dispatcher | None = None
        self._gated: _GatedCompleter | None = None
        self._opening: anyio.Lock | None = None
        self._simulator: Any = None
        self._owned_scorers: list[HttpScorer] = []
        if not simulate:
            self._check_scorers(os.environ.get("PAIRRM_BASE_URL"))

    def __repr__(self) -> str:
        return f"Engine({self.architecture!r}, simulate={bool(self._simulate)})"

    def _build_layers(self) -> list[list[tuple[ComponentSpec, Component]]]:
        return [
            [(spec, self._registry.build_component(spec)) for spec in layer]
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
        """Whether the engine holds open connections (inside ``async with`` or after a call)."""
        return self._dispatcher is not None

    @property
    def dispatcher(self) -> Dispatcher:
        """The call path shared by every run of this engine (opened on first use)."""
        if self._dispatcher is None:
            raise ArchonError("the engine is not open: use 'async with Engine(...)'")
        return self._dispatcher

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
        """Open the connection pools (and the simulator); `generate` does it when needed."""
        if self._dispatcher is not None:
            return
        # Many first generate() calls may race to open the engine (a batch's workers do):
        # one opens it, the others wait for it.
        if self._opening is None:
            self._opening = anyio.Lock()
        async with self._opening:
            if self._dispatcher is None:
                await self._open_now()

    async def _open_now(self) -> None:
        settings, keys = dict(self._settings), self._keys
        if self._simulate:
            root = await self._start_simulator()
            for model_type, url in simulated_base_urls(root).items():
                current = settings.get(model_type) or ProviderSettings()
                settings[model_type] = current.model_copy(update={"base_url": url})
            keys = keys if keys is not None else _SIMULATED_KEYS
            self._check_scorers(root)
        # A component's own base_url outranks the settings that point at the simulator.
        factory = _SimulatedDispatcher if self._simulate else Dispatcher
        dispatcher = factory(self._registry, settings=settings, keys=keys)
        if not self._simulate:
            # A hosted provider without a key fails here, before any call (PairRM rankers
            # are scored by a backend, whatever their model_type says).
            layers = self.architecture.layers
            called = [s.model_type for ss in layers for s in ss if not is_reward_model(s)]
            dispatcher.check_keys(called, source=self.architecture.source)
        self._dispatcher = dispatcher
        self._gated = _GatedCompleter(self._dispatcher)

    async def _start_simulator(self) -> str:
        if isinstance(self._simulate, str):
            return self._simulate
        from .simulate import SimulatedServer, SimulationSettings

        sim_settings = self._simulate if isinstance(self._simulate, SimulationSettings) else None
        server = SimulatedServer(sim_settings or SimulationSettings())
        await server.__aenter__()
        self._simulator = server
        return str(server.base_url)

    async def aclose(self) -> None:
        """Close every connection pool, scorer and the in-process simulator, if any."""
        with anyio.CancelScope(shield=True):
            if self._dispatcher is not None:
                await self._dispatcher.aclose()
                self._dispatcher = None
                self._gated = None
            for scorer in self._owned_scorers:
                await scorer.aclose()
            if self._simulator is not None:
                await self._simulator.__aexit__(None, None, None)
                self._simulator = None
            self._opening = None

    async def generate(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        *,
        seed: int | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        on_delta: DeltaCallback | None = None,
    ) -> Result:
        """Answer a prompt (a string or an OpenAI-style message list) with the architecture.

        Every component of a layer, and every sample of a component, runs concurrently;
        cancelling this call cancels every call it started.

        Args:
            messages: the prompt, or the conversation to answer.
            seed: the seed of this run's random choices (default: the engine's).
            temperature: overrides the answer layer's temperature (see `_streaming`).
            max_tokens: overrides the answer layer's completion budget.
            on_delta: an async callable given the answer's text as it is written: streamed
                from the provider when the final layer is a single one-sample generator or
                fuser, otherwise the chosen answer in one piece.

        Raises:
            InvalidInputError: the messages or overrides are malformed (before any call).
            LayerFailedGroup: every component of a layer failed.
            ComponentError: the architecture left no candidate.
        """
        conversation = normalize_messages(messages)
        layers = self.architecture.layers
        options = RunOptions.build(
            layers, temperature=temperature, max_tokens=max_tokens, on_delta=on_delta
        )
        await self.open()
        run_seed = self._seed if seed is None else seed
        # Random choices depend on the seed and the prompt: the same prompt and seed always
        # choose alike, while the prompts of a batch do not all pick the same position.
        run_key = f"{run_seed}:{_digest(conversation)}"
        trace = Trace()
        started = time.perf_counter()
        state: dict[str, Any] = {"candidates": [], "critiques": [], "unit_tests": []}
        # Calls of runs that started earlier are admitted first (see _admission); a caller
        # that set a ticket (a batch prompt, over its turns and attempts) keeps its place.
        ticket = current_ticket.set(current_ticket.get() or next_ticket())
        try:
            with structlog.contextvars.bound_contextvars(architecture=self.architecture.name):
                for index, members in enumerate(self._layers):
                    make_context = self._context_factory(conversation, run_key, index, options)
                    with options.layer(index):
                        state, layer_trace = await run_layer(index, members, state, make_context)
                    trace.layers.append(layer_trace)
            result = self._result(state, trace, run_seed, run_key)
            await options.finish(result.text)
            return result
        except ArchonError as exc:
            if isinstance(exc, LayerFailedGroup) and exc.layer_trace is not None:
                trace.layers.append(exc.layer_trace)
            exc.trace = trace  # what the run did before it failed: its calls were made
            raise
        finally:
            trace.elapsed_s = time.perf_counter() - started
            current_ticket.reset(ticket)

    def _context_factory(
        self, conversation: Sequence[Message], seed: str, layer: int, options: RunOptions
    ) -> Any:
        completer = self._gated
        assert completer is not None, "opened by generate()"

        def make(spec: ComponentSpec, position: int, trace: ComponentTrace) -> CallContext:
            return CallContext(
                spec=options.spec(layer, spec),
                conversation=conversation,
                completer=completer,
                trace=trace,
                seed=f"{seed}:{layer}:{position}",
                scorers=self._scorers,
            )

        return make

    def _result(self, state: Mapping[str, Any], trace: Trace, seed: int, key: str) -> Result:
        candidates = tuple(state.get("candidates") or ())
        if not candidates:
            raise ComponentError(
                "the architecture left no candidate answer: its last layer must write candidates"
            )
        index = 0
        if len(candidates) > 1:
            index = random.Random(key).randrange(len(candidates))
            trace.final_choice = FinalChoice(candidates=len(candidates), index=index, seed=seed)
        return Result(text=candidates[index], candidates=candidates, trace=trace)

    def stream(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        *,
        seed: int | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
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
            )

        return AnswerStream(run)

    def generate_sync(
        self, messages: str | Sequence[Mapping[str, Any]], *, seed: int | None = None
    ) -> Result:
        """`generate` for scripts and notebooks: opens the engine, answers, closes it.

        Inside a running event loop (a notebook) it runs on a worker thread with its own loop.

        Raises:
            ArchonError: as `generate`, or when called on an engine already open in async code.
        """
        if self._dispatcher is not None:
            raise ArchonError("this engine is open in async code: use 'await engine.generate()'")

        async def run() -> Result:
            async with self:
                return await self.generate(messages, seed=seed)

        try:
            import asyncio

            asyncio.get_running_loop()
        except RuntimeError:
            return anyio.run(run)
        result: list[Result] = []
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                result.append(anyio.run(run))
            except BaseException as exc:  # handed over to the calling thread
                errors.append(exc)

        thread = threading.Thread(target=worker, name="archon-generate-sync")
        thread.start()
        thread.join()
        if errors:
            raise errors[0]
        return result[0]


class _SimulatedDispatcher(Dispatcher):
    """The dispatcher of a simulating engine: every call goes to the simulator.

    Adapters take a component's ``base_url`` over their settings (where `_open_now` puts
    the simulator's URL), so the component's is dropped here: a simulated run must never
    reach a real API, least of all with the simulator's key.
    """

    async def complete(self, request: ChatRequest) -> tuple[ChatResponse, CallRecord]:
        if request.base_url is not None:
            request = dataclasses.replace(request, base_url=None)
        return await super().complete(request)


class _GatedCompleter:
    """The dispatcher behind one priority gate per model_type (capacity: max_concurrency)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher
        self._gates: dict[str, PriorityGate] = {}

    async def complete(self, request: ChatRequest) -> tuple[ChatResponse, CallRecord]:
        gate = self._gates.get(request.model_type)
        if gate is None:
            capacity = self._dispatcher.settings_for(request.model_type).max_concurrency
            gate = self._gates[request.model_type] = PriorityGate(capacity)
        await gate.acquire(current_ticket.get())
        try:
            return await self._dispatcher.complete(request)
        finally:
            gate.release()


def _digest(conversation: Sequence[Message]) -> str:
    """A short, stable fingerprint of a conversation (the same in every process)."""
    hasher = hashlib.blake2b(digest_size=8)
    for message in conversation:
        hasher.update(message["role"].encode())
        hasher.update(b"\0")
        hasher.update(message["content"].encode())
        hasher.update(b"\0")
    return hasher.hexdigest()


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


def _merged_settings(
    from_config: Mapping[str, ProviderSettings],
    from_code: Mapping[str, ProviderSettings | Mapping[str, Any]] | None,
) -> dict[str, ProviderSettings]:
    merged = dict(from_config)
    for model_type, value in (from_code or {}).items():
        base = merged.get(model_type) or ProviderSettings()
        update = (
            value.model_dump(exclude_unset=True)
            if isinstance(value, ProviderSettings)
            else dict(value)
        )
        try:
            merged[model_type] = ProviderSettings.model_validate(
                {**base.model_dump(exclude_unset=True), **update}
            )
        except ValueError as exc:
            raise ConfigError(
                f"invalid settings: {exc}", location=f"providers[{model_type!r}]"
            ) from None
    return merged
