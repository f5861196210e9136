"""The registry mapping config names to implementations: component types and model_types.

It is built in this one place. The built-in entries are imported lazily, so that importing
`archon_async` stays cheap and `providers`/`components` can import `archon_async.core`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, cast

from ._config import ComponentSpec, ProviderSettings
from ._exceptions import ConfigError
from .core import (
    ChatRequest,
    Component,
    ComponentContext,
    ComponentFactory,
    Provider,
    ProviderFactory,
    State,
    is_async_callable,
)
from .core import StateUpdate as StateUpdate

__all__ = ["Registry"]

# config name -> "module:attribute"; imported on first use.
_BUILTIN_COMPONENTS = {
    "generator": "archon_async.components.generator:Generator",
    "fuser": "archon_async.components.fuser:Fuser",
    "ranker": "archon_async.components.ranker:Ranker",
    "critic": "archon_async.components.critic:Critic",
    "verifier": "archon_async.components.verifier:Verifier",
    "unit_test_generator": "archon_async.components.unit_test_generator:UnitTestGenerator",
    "unit_test_evaluator": "archon_async.components.unit_test_evaluator:UnitTestEvaluator",
}

_OPENAI_COMPATIBLE = "archon_async.providers.openai_chat:OpenAIChatProvider"
_BUILTIN_PROVIDERS = {
    "OpenAI_API": _OPENAI_COMPATIBLE,
    "Together_API": _OPENAI_COMPATIBLE,
    "Groq_API": _OPENAI_COMPATIBLE,
    "tgi": _OPENAI_COMPATIBLE,
    # Self-hosted OpenAI-compatible servers (vLLM, Ollama, llama.cpp): base URL from config/env.
    "vLLM": _OPENAI_COMPATIBLE,
    "OpenAI_Compatible": _OPENAI_COMPATIBLE,
    "Anthropic_API": "archon_async.providers.anthropic_messages:AnthropicMessagesProvider",
    "Google_API": "archon_async.providers.google_gemini:GeminiProvider",
    "Bedrock_API": "archon_async.providers.bedrock_converse:BedrockConverseProvider",
}

#: A custom generator: ``async (request) -> str``, or Archon's keyword form, sync or async.
GeneratorFunction = Callable[..., Any]
#: A custom component written as a function of the context and the previous state.
ComponentFunction = Callable[[ComponentContext, State], Awaitable[StateUpdate]]


def _load(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


class _FunctionComponent:
    """Adapts an async function ``fn(ctx, state) -> dict`` to the Component protocol."""

    def __init__(self, fn: ComponentFunction, spec: ComponentSpec):
        self._fn = fn
        self.spec = spec

    async def run(self, ctx: ComponentContext, state: State) -> StateUpdate:
        return await self._fn(ctx, state)


class Registry:
    """Which component class serves each ``type`` and which provider each ``model_type``.

    Use `Registry.default()` and add your own entries, as Archon's ``add_component`` and
    ``add_generator`` allow, without touching the library's code.
    """

    def __init__(self) -> None:
        self._components: dict[str, ComponentFactory | str] = {}
        self._providers: dict[str, ProviderFactory | str] = {}

    @classmethod
    def default(cls) -> Registry:
        """A registry with the seven built-in components and the built-in providers."""
        registry = cls()
        registry._components.update(_BUILTIN_COMPONENTS)
        registry._providers.update(_BUILTIN_PROVIDERS)
        return registry

    def copy(self) -> Registry:
        """An independent copy, to extend without changing this one."""
        other = Registry()
        other._components = dict(self._components)
        other._providers = dict(self._providers)
        return other

    def add_component(self, name: str, component: type[Any] | ComponentFunction) -> Registry:
        """Register a custom component under a config ``type`` name.

        ``component`` is a class built with its `ComponentSpec` whose ``async run(ctx, state)``
        returns the keys it writes, or an async callable ``fn(ctx, state) -> dict`` (a
        function, or an object with an async ``__call__``).

        Raises:
            ConfigError: the name is empty or the object is neither a class nor async callable.
        """
        if not name:
            raise ConfigError("a custom component needs a non-empty name")
        if inspect.isclass(component):
            self._components[name] = cast(ComponentFactory, component)
        elif is_async_callable(component):
            function = component
            self._components[name] = lambda spec: _FunctionComponent(function, spec)
        else:
            raise ConfigError(
                f"custom component {name!r} must be a class, an async function or an object "
                f"with an async __call__(ctx, state), got {type(component).__name__}"
            )
        return self

    def add_provider(self, model_type: str, factory: ProviderFactory) -> Registry:
        """Register a provider factory ``factory(model_type, settings) -> Provider``."""
        if not model_type:
            raise ConfigError("a provider needs a non-empty model_type name")
        self._providers[model_type] = factory
        return self

    def add_generator(self, model_type: str, generate: GeneratorFunction) -> Registry:
        """Register a custom generator under a new ``model_type``, as Archon's allows.

        ``generate`` is ``async def generate(request: ChatRequest) -> str``, or an Archon
        generator ``generate(model=, messages=, max_tokens=, temperature=) -> str``, sync
        (run on a worker thread) or async. It runs behind the engine's limits and retries
        like any provider.

        Raises:
            ConfigError: ``generate`` has neither shape.
        """
        from archon_async.providers.function import FunctionProvider, check_generator

        check_generator(model_type, generate)

        def factory(name: str, settings: ProviderSettings) -> Provider:
            return FunctionProvider(name, generate)

        return self.add_provider(model_type, factory)

    def has_component(self, name: str) -> bool:
        """Whether a component ``type`` is registered."""
        return name in self._components

    def has_provider(self, model_type: str) -> bool:
        """Whether a ``model_type`` is registered."""
        return model_type in self._providers

    def component_names(self) -> list[str]:
        """The registered component types."""
        return sorted(self._components)

    def provider_names(self) -> list[str]:
        """The registered model_types."""
        return sorted(self._providers)

    def build_component(self, spec: ComponentSpec) -> Component:
        """Build the component a spec names.

        Raises:
            ConfigError: the type is not registered, or the component rejects its settings.
        """
        entry = self._components.get(spec.type)
        if entry is None:
            raise ConfigError(
                f"unknown component type {spec.type!r}: use one of "
                f"{', '.join(self.component_names())}, or register it with add_component"
            )
        factory: ComponentFactory = _load(entry) if isinstance(entry, str) else entry
        component: Component = factory(spec)
        return component

    def request_notes(
        self, model_type: str, request: ChatRequest, settings: ProviderSettings
    ) -> list[str]:
        """What the provider class of a model_type will send differently from ``request``
        (its ``request_notes`` classmethod, if it has one; none for custom generators)."""
        entry = self._providers.get(model_type)
        target = _load(entry) if isinstance(entry, str) else entry
        notes = getattr(target, "request_notes", None) if inspect.isclass(target) else None
        return list(notes(request, settings)) if notes is not None else []

    def build_provider(self, model_type: str, settings: ProviderSettings) -> Provider:
        """Build the provider serving a model_type.

        Raises:
            ConfigError: no provider is registered under that name.
        """
        entry = self._providers.get(model_type)
        if entry is None:
            raise ConfigError(
                f"no provider is registered for model_type {model_type!r}: use one of "
                f"{', '.join(self.provider_names())}, or register one with add_generator"
            )
        factory: ProviderFactory = _load(entry) if isinstance(entry, str) else entry
        return factory(model_type, settings)
