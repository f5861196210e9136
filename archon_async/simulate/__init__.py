"""The simulated provider: a real HTTP server that answers like LLM providers do.

It speaks the OpenAI chat-completions, Anthropic messages, Gemini generateContent and
Bedrock Converse wire formats on the loopback, with latency, per-model rate limits,
injected faults, deterministic replies that follow our components' reply formats, and
per-model skill against an answer key. Run it in-process::

    async with SimulatedServer(SimulationSettings(latency_s=0.05)) as sim:
        client = openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="any")

or as ``python -m archon_async.simulate --port 8765``.
"""

from __future__ import annotations

from ._server import SimulatedServer
from ._settings import FAULT_KINDS, FaultKind, ModelSettings, SimulationSettings
from ._state import SimulationStats

__all__ = [
    "FAULT_KINDS",
    "FaultKind",
    "ModelSettings",
    "SimulatedServer",
    "SimulationSettings",
    "SimulationStats",
]
