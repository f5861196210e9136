"""Our adapters pass the simulator's checks, which follow the real APIs' refusals."""

from __future__ import annotations

from typing import Any

import pytest

from archon_async.core import ChatRequest, Message, ProviderSettings
from archon_async.providers.anthropic_messages import AnthropicMessagesProvider
from archon_async.providers.openai_chat import OpenAIChatProvider
from archon_async.simulate import SimulatedServer, SimulationSettings

CONVERSATION: list[Message] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "4."},
    {"role": "user", "content": "And 3+3?"},
]


@pytest.mark.parametrize(
    "options",
    [{}, {"temperature": 1.5, "max_tokens": 32}, {"extra": {"top_p": 0.5}}],
    ids=["defaults", "options", "extra"],
)
@pytest.mark.parametrize("model_type", ["OpenAI_API", "Anthropic_API"])
async def test_our_adapters_pass_the_strict_simulator(
    model_type: str, options: dict[str, Any]
) -> None:
    async with SimulatedServer(SimulationSettings(require_key=True)) as server:
        if model_type == "OpenAI_API":
            settings = ProviderSettings(base_url=server.openai_base_url)
            provider: OpenAIChatProvider | AnthropicMessagesProvider = OpenAIChatProvider(
                model_type, settings
            )
        else:
            settings = ProviderSettings(base_url=server.anthropic_base_url)
            provider = AnthropicMessagesProvider(model_type, settings)
        request = ChatRequest(
            model="sim-model", model_type=model_type, messages=CONVERSATION, **options
        )
        try:
            response = await provider.send(request, api_key="sk-sim")
        finally:
            await provider.aclose()
        stats = server.stats()
    assert response.text
    assert response.usage.input_tokens > 0
    assert (stats.bad_requests, stats.unauthorized, stats.replies) == (0, 0, 1)
