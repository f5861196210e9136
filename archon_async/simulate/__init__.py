"""The simulated provider: a real HTTP server that answers like LLM providers do.

It speaks the OpenAI chat-completions, Anthropic messages, Gemini generateContent and
Bedrock Converse wire formats on the loopback, with latency, per-model rate limits,
injected faults, deterministic replies that follow our components' reply formats, and
per-model skill against an answer key. Run it in-process::

    async with SimulatedServer(SimulationSettings(latency_s=0.05)) as sim:
        client = openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="any")

or as ``python -m archon_async.simulate --port 8765`` (``--help`` lists the flags).

Endpoints: ``POST /v1/chat/completions`` (OpenAI; also at ``/chat/completions`` and at
Groq's ``/openai/v1/chat/completions``), ``POST /v1/messages`` (Anthropic),
``POST /v1beta/models/{model}:generateContent`` and ``:streamGenerateContent`` (Gemini),
``POST /model/{id}/converse``
(Bedrock), ``GET /v1/models``, ``POST /score`` (PairRM-style: ``{"model", "query",
"candidates"}`` -> ``{"scores"}``), ``GET /stats``, ``POST /stats/reset`` and
``GET /requests`` (the latest requests, one by one, when ``request_log`` is set).

Determinism and sampling: **a repeated identical request on the same server is the next
sample, so it gets a different reply.** A reply is drawn from a seed made of the settings'
seed, the model, a digest of the request body (keys sorted) and the request's sample
number, which counts the earlier replies to an identical body in this server's lifetime.
So the same request gets the same reply from a fresh server, n identical requests (the
samples of one component) get n different replies in a fixed order, and the same run
against a fresh server replays exactly. Faults and latency jitter are drawn per attempt
(seed, digest, arrival count), so a retried request can succeed, and a failed attempt uses
up no sample. A client may instead tell which samples a request's choices are (the body
field ``simulate_samples``, a list of one number per choice, which is no part of the
digest): the reply is then a function of the request, the seed and those numbers alone,
whatever the server drew before. A `CallPath` with a cache does so, so that sample j of a
request reads the same from the cache or from a fresh server (a resumed search). Sample
numbers from ``d * 2**32`` on are draw ``d`` (`Engine.generate`'s ``draw``: the search's
race passes): under a ground truth, each draw is another run of the question, with its own
correlated-sample and unit-test coins.

Replay: a request that carries a seed -- OpenAI's ``seed`` field, Gemini's
``generationConfig.seed``, or an ``x-simulate-seed`` header on any wire -- is answered as
on a fresh server every time: repeating it returns the same reply (its n choices still
differ from each other), a different seed gives other replies, and it uses up none of the
unseeded samples. This is what the real APIs' ``seed`` promises; the engine sends none, so
the samples of a component stay different.

Limits and keys: ``rpm`` limits are counted per model (and per key, for the keys listed in
``keys``) over ``rpm_window_s`` as a sliding window or a token bucket (``rate_limiter``);
a listed key can also be refused as invalid (401) or out of quota. The checks follow the
real APIs where clients could tell: OpenAI needs ``model`` and ``messages``; Anthropic
needs ``max_tokens``, refuses a ``system`` role inside ``messages``, and under
``anthropic-version: 2026-10-21`` refuses ``temperature``, ``top_p`` and ``top_k``.

Streaming: ``"stream": true`` (OpenAI, Anthropic) or ``:streamGenerateContent`` (Gemini)
gets the reply as that API's server-sent events, one word per event, the first after the
latency and the next ``chunk_interval_s`` apart (see ``_streaming``); a client that leaves
mid-stream is counted in ``cancelled``.

Every reply starts with the line `SIMULATED_MARK`, and its filler prose says it is
simulated, so that no one takes it for a model's text. Replies follow the task a prompt
asks for, recognised by the marker phrases of
``components.formats`` (see ``_tasks``): rankings, critiques, verdicts, unit tests and
their verdicts in the formats the components parse. A prompt about an answer-key question
is answered correctly with the model's ``skill`` probability ("The answer is X.", and
"#### X" for numbers); judges and scorers favour candidates that state the right answer.

Ground truth: with ``ground_truth`` in the settings (seeded effects, and which of its
questions each answer-key question plays), every reply about such a question follows those
effects instead -- per-question model chances, correlated samples, fusers that can ruin a
right majority, rankers and critics that help, an imperfect verifier and unit tests, a
judge's skill (see ``_grounded``) -- so that an architecture run through the engine scores,
in expectation, exactly what `archon_async.search.Truth` computes for it. ``archon-async
search --simulate`` runs with it.
"""

from __future__ import annotations

from ._replies import SIMULATED_MARK
from ._server import SimulatedServer
from ._settings import FAULT_KINDS, FaultKind, KeySettings, ModelSettings, SimulationSettings
from ._state import RequestRecord, SimulationStats

__all__ = [
    "FAULT_KINDS",
    "SIMULATED_MARK",
    "FaultKind",
    "KeySettings",
    "ModelSettings",
    "RequestRecord",
    "SimulatedServer",
    "SimulationSettings",
    "SimulationStats",
]
