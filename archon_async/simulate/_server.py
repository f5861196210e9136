"""`SimulatedServer`: the simulated provider as an aiohttp application on the loopback.

Every model endpoint goes through one path (`_Simulator.serve`): authenticate, read the
request into an `Inbound`, apply the model's rate limit, draw a fault, wait the latency,
then write a reply for the task the prompt asks for.

Determinism: a request's digest hashes its wire format, its URL model and its body (keys
sorted). Faults and latency are drawn from (seed, digest, attempt number); a reply is drawn
from (seed, model, digest, sample number), where the sample number counts the earlier
replies to the same body in this server's lifetime. So the same request gets the same reply
on a fresh server, and n identical requests get n different replies, in a fixed order.
"""

from __future__ import annotations

import asyncio
import random
import time
from types import TracebackType
from typing import Any

import orjson
import structlog
from aiohttp import web

from ._answers import AnswerKey
from ._faults import inject_fault
from ._replies import ReplyContext, compose_reply, estimate_tokens, score_candidates
from ._responses import (
    Choice,
    ErrorKind,
    error_reply,
    rate_limit_headers,
    reply_body,
    request_id_headers,
)
from ._settings import FaultKind, ModelSettings, SimulationSettings
from ._state import Counters, RequestLedger, SimulationStats, SlidingWindow, derive_seed
from ._tasks import Task, detect_task
from ._wire import BadRequest, Inbound, Wire, parse_request

__all__ = ["SimulatedServer"]

log = structlog.get_logger(__name__)

_ENDPOINTS = {
    Wire.OPENAI: "openai.chat_completions",
    Wire.ANTHROPIC: "anthropic.messages",
    Wire.GOOGLE: "google.generate_content",
    Wire.BEDROCK: "bedrock.converse",
}
# How long closing the server waits for requests still running (e.g. timeout faults).
_SHUTDOWN_TIMEOUT_S = 0.25


class _Simulator:
    """The request handlers and everything they share; one per server."""

    def __init__(self, settings: SimulationSettings) -> None:
        self.settings = settings
        self.counters = Counters()
        self.answer_key = AnswerKey(settings.answer_key)
        self._window = SlidingWindow()
        self._ledger = RequestLedger()
        self._models: dict[str, ModelSettings] = {}
        self._serial = 0

    def model_settings(self, model: str) -> ModelSettings:
        cached = self._models.get(model)
        if cached is None:
            cached = self._models[model] = self.settings.for_model(model)
        return cached

    def _request_id(self) -> str:
        self._serial += 1
        return f"req_sim{self.settings.seed & 0xFFFF:04x}{self._serial:012x}"

    async def serve(self, request: web.Request, wire: Wire) -> web.StreamResponse:
        counters = self.counters
        counters.requests += 1
        counters.by_endpoint[_ENDPOINTS[wire]] += 1
        ids = request_id_headers(wire, self._request_id())
        if self.settings.require_key and not _has_key(request, wire):
            counters.unauthorized += 1
            return _error(wire, ErrorKind.AUTH, "no API key was given", ids)
        raw = await request.read()
        try:
            body = orjson.loads(raw)
            inbound = parse_request(wire, body, request.match_info.get("model"))
        except (orjson.JSONDecodeError, BadRequest) as exc:
            counters.bad_requests += 1
            message = str(exc) if isinstance(exc, BadRequest) else "the body is not valid JSON"
            return _error(wire, ErrorKind.BAD_REQUEST, message, ids)
        counters.by_model[inbound.model] += 1
        limits = self.model_settings(inbound.model)
        headers = dict(ids)
        if limits.rpm is not None:
            admission = self._window.admit(inbound.model, limits.rpm, time.monotonic())
            headers.update(
                rate_limit_headers(wire, admission.limit, admission.remaining, admission.reset_s)
            )
            if not admission.admitted:
                counters.rate_limited += 1
                counters.rate_limited_by_model[inbound.model] += 1
                return _rate_limited(wire, admission.reset_s, headers)
        digest = derive_seed(wire, request.match_info.get("model"), _canonical(body))
        counters.enter()
        try:
            return await self._answer(request, inbound, digest, limits, headers)
        finally:
            counters.leave()

    async def _answer(
        self,
        request: web.Request,
        inbound: Inbound,
        digest: int,
        limits: ModelSettings,
        headers: dict[str, str],
    ) -> web.StreamResponse:
        attempt = self._ledger.next_attempt(digest)
        draw = random.Random(derive_seed(self.settings.seed, "attempt", digest, attempt))
        fault = self._draw_fault(draw)
        latency = (limits.latency_s or 0.0) + draw.random() * (limits.jitter_s or 0.0)
        if latency > 0:
            await asyncio.sleep(latency)
        if fault is not None:
            self.counters.faults[fault] += 1
            return await inject_fault(
                request, fault, inbound, draw, self.settings.timeout_fault_s, headers
            )
        first = self._ledger.take_samples(digest, inbound.n)
        choices = [self._choice(inbound, digest, first + n, limits) for n in range(inbound.n)]
        return self._reply(inbound, choices, headers, digest, first, latency)

    def _draw_fault(self, draw: random.Random) -> FaultKind | None:
        settings = self.settings
        if settings.fault_rate <= 0 or not settings.faults:
            return None
        if draw.random() >= settings.fault_rate:
            return None
        return draw.choice(settings.faults)

    def _choice(self, inbound: Inbound, digest: int, sample: int, limits: ModelSettings) -> Choice:
        prompt = detect_task(inbound.last_user_text())
        if prompt.task is Task.GENERATE:
            # Multi-turn judge prompts put the verdict format in the system message.
            judged = detect_task(inbound.system_text())
            if judged.task in (Task.JUDGE_RATING, Task.JUDGE_PAIRWISE):
                prompt = judged
        self.counters.by_task[prompt.task] += 1
        context = ReplyContext(
            rng=random.Random(derive_seed(self.settings.seed, inbound.model, digest, sample)),
            skill=self.settings.skill if limits.skill is None else limits.skill,
            known=self.answer_key.find(prompt.text, inbound.question_id),
            reply_words=self.settings.reply_tokens,
        )
        return _truncate(compose_reply(prompt, context), inbound.max_tokens)

    def _reply(
        self,
        inbound: Inbound,
        choices: list[Choice],
        headers: dict[str, str],
        digest: int,
        sample: int,
        latency: float,
    ) -> web.Response:
        prompt_tokens = sum(estimate_tokens(text) for _, text in inbound.messages)
        completion_tokens = sum(estimate_tokens(choice.text) for choice in choices)
        self.counters.replies += 1
        self.counters.prompt_tokens += prompt_tokens
        self.counters.completion_tokens += completion_tokens
        body = reply_body(
            inbound,
            choices,
            reply_id=f"{derive_seed(digest, sample):016x}",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_ms=round(latency * 1000),
        )
        return _json(200, body, headers)

    async def score(self, request: web.Request) -> web.Response:
        self.counters.requests += 1
        self.counters.by_endpoint["score"] += 1
        try:
            body = orjson.loads(await request.read())
            query, candidates = body["query"], body["candidates"]
            if not isinstance(query, str) or not isinstance(candidates, list):
                raise TypeError
            texts = [str(candidate) for candidate in candidates]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self.counters.bad_requests += 1
            return _json(400, {"error": "expected {'model', 'query', 'candidates': [...]}"}, {})
        model = str(body.get("model", "pairrm"))
        self.counters.by_model[model] += 1
        if self.settings.latency_s > 0:
            await asyncio.sleep(self.settings.latency_s)
        seed = derive_seed(self.settings.seed, "score", model, _canonical(body))
        scores = score_candidates(texts, self.answer_key.find(query), random.Random(seed))
        return _json(200, {"scores": scores}, {})

    async def models(self, request: web.Request) -> web.Response:
        self.counters.by_endpoint["models"] += 1
        names = sorted(set(self.settings.models) | set(self.counters.by_model)) or ["sim-model"]
        data: list[dict[str, Any]]
        if "anthropic-version" in request.headers:
            data = [
                {"type": "model", "id": name, "display_name": name, "created_at": _EPOCH}
                for name in names
            ]
            body: dict[str, Any] = {
                "data": data,
                "has_more": False,
                "first_id": names[0],
                "last_id": names[-1],
            }
        else:
            data = [
                {"id": name, "object": "model", "created": 0, "owned_by": "archon-simulate"}
                for name in names
            ]
            body = {"object": "list", "data": data}
        return _json(200, body, {})

    async def stats(self, request: web.Request) -> web.Response:
        return _json(200, self.counters.snapshot().model_dump(), {})

    async def reset_stats(self, request: web.Request) -> web.Response:
        self.counters.reset()
        return _json(200, self.counters.snapshot().model_dump(), {})


_EPOCH = "1970-01-01T00:00:00Z"


def _canonical(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def _has_key(request: web.Request, wire: Wire) -> bool:
    headers = request.headers
    authorization = headers.get("authorization", "").strip()
    if authorization and authorization.lower() not in ("bearer", "bearer "):
        return True
    if wire is Wire.ANTHROPIC:
        return bool(headers.get("x-api-key", "").strip())
    if wire is Wire.GOOGLE:
        return bool(headers.get("x-goog-api-key", "").strip() or request.query.get("key"))
    return False


def _truncate(text: str, max_tokens: int | None) -> Choice:
    if max_tokens is None or estimate_tokens(text) <= max_tokens:
        return Choice(text)
    keep = max(1, int(max_tokens / 1.3))
    words = text.split(" ")
    return Choice(" ".join(words[:keep]), truncated=True)


def _json(status: int, body: Any, headers: dict[str, str]) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(body), headers=headers, content_type="application/json"
    )


def _error(wire: Wire, kind: ErrorKind, message: str, headers: dict[str, str]) -> web.Response:
    status, body, extra = error_reply(wire, kind, message)
    return _json(status, body, {**headers, **extra})


def _rate_limited(wire: Wire, reset_s: float, headers: dict[str, str]) -> web.Response:
    retry_after = {
        "retry-after": str(max(1, int(-(-reset_s // 1)))),
        "retry-after-ms": str(max(1, round(reset_s * 1000))),
    }
    message = "rate limit reached for requests per minute; retry after the time given"
    return _error(wire, ErrorKind.RATE_LIMIT, message, {**headers, **retry_after})


class SimulatedServer:
    """The simulated provider, served on the loopback while the context is open.

    ``async with SimulatedServer(SimulationSettings(latency_s=0.05)) as sim:`` then point
    clients at ``sim.openai_base_url``, ``sim.anthropic_base_url``, ``sim.google_base_url``
    or ``sim.bedrock_base_url``; ``sim.stats()`` reports what it received.

    Args:
        settings: how it behaves; the defaults answer at once, with no faults or limits.
    """

    def __init__(self, settings: SimulationSettings | None = None) -> None:
        self.settings = settings or SimulationSettings()
        self._simulator = _Simulator(self.settings)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "not started"
        return f"SimulatedServer({where})"

    def application(self) -> web.Application:
        """The aiohttp application (for serving it some other way)."""
        sim = self._simulator
        app = web.Application(client_max_size=64 * 1024 * 1024)

        def wired(wire: Wire) -> Any:
            async def handler(request: web.Request) -> web.StreamResponse:
                return await sim.serve(request, wire)

            return handler

        app.router.add_post("/v1/chat/completions", wired(Wire.OPENAI))
        app.router.add_post("/chat/completions", wired(Wire.OPENAI))
        app.router.add_post("/v1/messages", wired(Wire.ANTHROPIC))
        app.router.add_post("/v1beta/models/{model}:generateContent", wired(Wire.GOOGLE))
        app.router.add_post("/model/{model}/converse", wired(Wire.BEDROCK))
        app.router.add_get("/v1/models", sim.models)
        app.router.add_post("/score", sim.score)
        app.router.add_get("/stats", sim.stats)
        app.router.add_post("/stats/reset", sim.reset_stats)
        return app

    async def __aenter__(self) -> SimulatedServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start listening (``async with`` does this)."""
        if self._runner is not None:
            return
        # handler_cancellation: a client that gives up (a timeout fault) ends its handler.
        runner = web.AppRunner(
            self.application(),
            handler_cancellation=True,
            access_log=None,
            shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, self.settings.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        log.info("simulated provider listening", url=self.base_url)

    async def aclose(self) -> None:
        """Stop listening and end the requests still running."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def port(self) -> int:
        """The port it listens on (chosen by the system when the settings say 0)."""
        if self._port is None:
            raise RuntimeError("the simulated server is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port``: the root of every endpoint."""
        host = self.settings.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """Base URL for OpenAI-compatible clients (``.../v1``)."""
        return f"{self.base_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """Base URL for Anthropic clients (they add ``/v1/messages``)."""
        return self.base_url

    @property
    def google_base_url(self) -> str:
        """Base URL for Gemini REST clients (they add ``/v1beta/models/...``)."""
        return self.base_url

    @property
    def bedrock_base_url(self) -> str:
        """Base URL for Bedrock runtime clients (they add ``/model/{id}/converse``)."""
        return self.base_url

    def stats(self) -> SimulationStats:
        """What it has received so far."""
        return self._simulator.counters.snapshot()

    def reset_stats(self) -> None:
        """Zero the counters (replies stay deterministic: sample numbers are kept)."""
        self._simulator.counters.reset()
