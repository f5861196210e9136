"""The call path below the components: provider lookup, keys, limits, retries.

`Dispatcher` is owned by one `Engine`; every concurrent `generate()` and batch prompt of
that engine shares its providers, connection pools, limiters and key pools.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from ._config import ProviderSettings
from ._registry import Registry
from ._types import CallRecord, ChatRequest, ChatResponse
from .core import Provider

__all__ = ["Dispatcher"]

# model_type -> the environment variable prefix of its keys, as Archon names them.
KEY_ENV_PREFIX = {
    "OpenAI_API": "OPENAI",
    "Together_API": "TOGETHER",
    "Groq_API": "GROQ",
    "Anthropic_API": "ANTHROPIC",
    "Google_API": "GOOGLE",
    "Bedrock_API": "BEDROCK",
}


class Dispatcher:
    """Makes provider calls for an engine."""

    def __init__(
        self,
        registry: Registry,
        *,
        settings: Mapping[str, ProviderSettings] | None = None,
        keys: Any = None,
    ) -> None:
        self._registry = registry
        self._settings = dict(settings or {})
        self._keys = keys
        self._providers: dict[str, Provider] = {}

    def settings_for(self, model_type: str) -> ProviderSettings:
        """The settings in force for a model_type."""
        return self._settings.get(model_type) or ProviderSettings()

    def _provider(self, model_type: str) -> Provider:
        provider = self._providers.get(model_type)
        if provider is None:
            provider = self._registry.build_provider(model_type, self.settings_for(model_type))
            self._providers[model_type] = provider
        return provider

    async def complete(self, request: ChatRequest) -> tuple[ChatResponse, CallRecord]:
        """Make one completion call.

        Raises:
            ProviderError: the call failed.
        """
        provider = self._provider(request.model_type)
        prefix = KEY_ENV_PREFIX.get(request.model_type)
        api_key = os.environ.get(f"{prefix}_API_KEY") if prefix else None
        started = time.perf_counter()
        response = await provider.send(request, api_key=api_key)
        record = CallRecord(
            model=request.model,
            provider=request.model_type,
            latency_s=time.perf_counter() - started,
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            retries=0,
        )
        return response, record

    async def aclose(self) -> None:
        """Close every provider's connection pool."""
        providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            await provider.aclose()
