"""The simulated provider: a real HTTP server that answers like LLM providers do.

It speaks the OpenAI chat-completions, Anthropic messages, Gemini generateContent and
Bedrock Converse wire formats on the loopback, with latency, per-model rate limits,
injected faults, deterministic replies that follow our components' reply formats, and
per-model skill against an answer key. Run it in-process::

    async with SimulatedServer(SimulationSettings(latency_s=0.05)) as sim:
        client = openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="any")

or as ``python -m archon_async.simulate --port 8765`` (``--help`` lists the flags).

Endpoints: ``POST /v1/chat/completions`` (OpenAI), ``POST /v1/messages`` (Anthropic),
``POST /v1beta/models/{model}:generateContent`` (Gemini), ``POST /model/{id}/converse``
(Bedrock), ``GET /v1/models``, ``POST /score`` (PairRM-style: ``{"model", "query",
"candidates"}`` -> ``{"scores"}``), ``GET /stats`` and ``POST /stats/reset``.

Determinism: a reply is drawn from a seed made of the settings' seed, the model, a digest
of the request body (keys sorted) and the request's sample number, which counts the
earlier replies to an identical body in this server's lifetime. The same request thus gets
the same reply from a fresh server, and n identical requests (samples) get n different
replies in a fixed order. Faults and latency jitter are drawn per attempt (seed, digest,
arrival count), so a retried request can succeed, and a failed attempt uses up no sample.

Replies follow the task a prompt asks for, recognised by the marker phrases of
``components.formats`` (see ``_tasks``): rankings, critiques, verdicts, unit tests and
their verdicts in the formats the components parse. A prompt about an answer-key question
is answered correctly with the model's ``skill`` probability ("The answer is X.", and
"#### X" for numbers); judges and scorers favour candidates that state the right answer.
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
