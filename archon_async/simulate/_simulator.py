"""`Simulator`: the request handlers of the simulated provider, and what they share.

Every model endpoint goes through one path (`Simulator.serve`): authenticate (and apply
the key's own settings), read the request into an `Inbound`, apply the model's and the
key's rate limits, draw a fault, wait the latency, then write a reply for the task the
prompt asks for.

Determinism: a request's digest hashes its wire format, its URL model, its body (keys
sorted) and its ``x-simulate-seed`` header if any. Faults and latency are drawn from (seed,
digest, attempt number); a reply is drawn from (seed, model, digest, sample number), where
the sample number counts the earlier replies to the same body in this server's lifetime.
So the same request gets the same reply on a fresh server, and n identical requests get n
different replies, in a fixed order. A request carrying a seed (OpenAI's ``seed``, Gemini's
``generationConfig.seed`` or the header) always starts at sample 0, so repeating it replays
its reply. A request whose body tells its sample numbers (``simulate_samples``, taken out
before the digest) gets exactly those samples.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from ..callpath._samples import DRAW_STRIDE, SAMPLES_FIELD
from ._answers import AnswerKey
from ._faults import inject_fault
from ._grounded import Grounded
from ._limits import Admission, RateLimiter, SlidingWindow, TokenBucket
from ._model_refusals import check_model_refusals
from ._replies import (
    SIMULATED_MARK,
    ReplyContext,
    compose_reply,
    estimate_tokens,
    score_candidates,
)
from ._responses import (
    Choice,
    ErrorKind,
    error_reply,
    quota_message,
    rate_limit_headers,
    reply_body,
    request_id_headers,
)
from ._rules import check_choices, check_rules
from ._settings import FaultKind, KeySettings, ModelSettings, SimulationSettings
from ._state import Counters, RequestLedger, RequestRecord, derive_seed
from ._streaming import stream_reply
from ._tasks import Task, detect_task
from ._wire import BadRequest, Inbound, Wire, parse_request

__all__ = ["SEED_HEADER", "Simulator"]

_ENDPOINTS = {
    Wire.OPENAI: "openai.chat_completions",
    Wire.ANTHROPIC: "anthropic.messages",
    Wire.GOOGLE: "google.generate_content",
    Wire.BEDROCK: "bedrock.converse",
}
#: The header that asks for a replay on any wire (see the package docstring).
SEED_HEADER = "x-simulate-seed"
# How the request log names a key the settings do not list (never the key itself).
_UNLISTED_KEY = "unlisted"


@dataclass(slots=True)
class _Trail:
    """What the request log learns while a request is served."""

    model: str = ""
    n: int = 1


class Simulator:
    """The request handlers and everything they share; one per server."""

    def __init__(self, settings: SimulationSettings) -> None:
        self.settings = settings
        self.counters = Counters()
        self.answer_key = AnswerKey(settings.answer_key)
        self.grounded = (
            Grounded(settings.ground_truth, settings.seed) if settings.ground_truth else None
        )
        self._limiter: RateLimiter = (
            TokenBucket(settings.rpm_window_s)
            if settings.rate_limiter == "token_bucket"
            else SlidingWindow(settings.rpm_window_s)
        )
        self._ledger = RequestLedger()
        self._models: dict[str, ModelSettings] = {}
        self._serial = 0
        self._started = time.monotonic()
        self.log: deque[RequestRecord] | None = (
            deque(maxlen=settings.request_log) if settings.request_log else None
        )

    def model_settings(self, model: str) -> ModelSettings:
        cached = self._models.get(model)
        if cached is None:
            cached = self._models[model] = self.settings.for_model(model)
        return cached

    def _request_id(self) -> str:
        self._serial += 1
        return f"req_sim{self.settings.seed & 0xFFFF:04x}{self._serial:012x}"

    async def serve(self, request: web.Request, wire: Wire) -> web.StreamResponse:
        if self.log is None:
            return await self._serve(request, wire, None)
        arrived = time.monotonic() - self._started
        trail = _Trail()
        status: int | None = None
        retry_after: float | None = None
        try:
            response = await self._serve(request, wire, trail)
            status = response.status
            if status == 429 and "retry-after-ms" in response.headers:
                retry_after = int(response.headers["retry-after-ms"]) / 1000
            return response
        finally:
            key = _api_key(request, wire)
            label = key if key is None or key in self.settings.keys else _UNLISTED_KEY
            self.log.append(
                RequestRecord(
                    at_s=round(arrived, 6),
                    endpoint=_ENDPOINTS[wire],
                    model=trail.model,
                    key=label,
                    status=status,
                    retry_after_s=retry_after,
                    n=trail.n,
                )
            )

    async def _serve(
        self, request: web.Request, wire: Wire, trail: _Trail | None
    ) -> web.StreamResponse:
        counters = self.counters
        counters.requests += 1
        counters.by_endpoint[_ENDPOINTS[wire]] += 1
        ids = request_id_headers(wire, self._request_id())
        key = _api_key(request, wire)
        listed: KeySettings | None = None
        if key is not None and self.settings.keys:
            listed = self.settings.keys.get(key)
            if listed is not None:
                counters.by_key[key] += 1
        if self.settings.require_key and key is None:
            counters.unauthorized += 1
            return _error(wire, ErrorKind.AUTH, "no API key was given", ids)
        if listed is not None and listed.refuse is not None:
            return self._refuse_key(wire, listed, ids)
        raw = await request.read()
        try:
            body = orjson.loads(raw)
            numbers = _told_samples(body)
            inbound = parse_request(
                wire,
                body,
                request.match_info.get("model"),
                api_version=request.headers.get("anthropic-version"),
            )
            if trail is not None:
                trail.n = inbound.n
            if self.settings.enforce_request_rules:
                check_rules(wire, body, inbound.model, request.headers)
            check_choices(wire, inbound, self.model_settings(inbound.model), request.path)
            if numbers is not None and len(numbers) != inbound.n:
                raise BadRequest(f"'{SAMPLES_FIELD}' must give one sample number per choice")
            check_model_refusals(inbound, self.model_settings(inbound.model))
        except orjson.JSONDecodeError:
            counters.bad_requests += 1
            return _error(wire, ErrorKind.BAD_REQUEST, "the body is not valid JSON", ids)
        except BadRequest as exc:
            counters.bad_requests += 1
            return _error(
                wire, ErrorKind.BAD_REQUEST, str(exc), ids, param=exc.param, code=exc.code
            )
        if trail is not None:
            trail.model = inbound.model
        counters.by_model[inbound.model] += 1
        limits = self.model_settings(inbound.model)
        headers = dict(ids)
        if limits.rpm is not None or (listed is not None and listed.rpm is not None):
            refused = self._rate_limit(wire, inbound.model, limits, key, listed, headers)
            if refused is not None:
                return refused
        seed_header = request.headers.get(SEED_HEADER)
        if numbers is not None:
            body = _without_choice_count(body)  # sample j is sample j, drawn alone or with n
        digest = _digest(wire, request.match_info.get("model"), body, seed_header)
        replay = seed_header is not None or inbound.seed is not None
        if wire is Wire.GOOGLE and request.path.endswith(":streamGenerateContent"):
            inbound = dataclasses.replace(inbound, stream=True)
        counters.enter()
        try:
            return await self._answer(
                request, inbound, digest, limits, headers, replay=replay, numbers=numbers
            )
        except (asyncio.CancelledError, ConnectionResetError):
            counters.cancelled += 1  # the client went away before the reply was complete
            raise
        finally:
            counters.leave()

    def _refuse_key(self, wire: Wire, listed: KeySettings, headers: dict[str, str]) -> web.Response:
        if listed.refuse == "invalid":
            self.counters.unauthorized += 1
            return _error(wire, ErrorKind.AUTH, "Incorrect API key provided.", headers)
        self.counters.out_of_quota += 1
        return _error(wire, ErrorKind.QUOTA, quota_message(wire), headers)

    def _rate_limit(
        self,
        wire: Wire,
        model: str,
        limits: ModelSettings,
        key: str | None,
        listed: KeySettings | None,
        headers: dict[str, str],
    ) -> web.Response | None:
        """Apply the model's and the key's limits; the 429 to answer, or None if admitted.

        A request is counted by both limits or by neither, so a refusal by one limit
        uses up nothing of the other.
        """
        now, limiter, settings = time.monotonic(), self._limiter, self.settings
        # (bucket, admission, its per-minute rate): headers announce the per-minute limit,
        # as OpenAI's and Anthropic's do, even where it is enforced over a shorter window.
        checks: list[tuple[object, Admission, float]] = []
        if limits.rpm is not None:
            admission = limiter.check(model, settings.window_allowance(limits.rpm), now)
            checks.append((model, admission, limits.rpm))
        if listed is not None and listed.rpm is not None:
            # A tuple, so that no model name can share a key's bucket.
            key_bucket = ("key", key)
            allowance = settings.window_allowance(listed.rpm)
            checks.append((key_bucket, limiter.check(key_bucket, allowance, now), listed.rpm))
        refused = [check for check in checks if not check[1].admitted]
        if refused:
            # The limit that frees up last is the one the client must wait for.
            _, shown, per_minute = max(refused, key=lambda check: check[1].reset_s)
        else:
            for bucket, admission, _ in checks:
                limiter.record(bucket, admission.limit, now)
            # The tighter bucket is the one worth reporting.
            _, shown, per_minute = min(checks, key=lambda check: check[1].remaining)
        headers.update(rate_limit_headers(wire, round(per_minute), shown.remaining, shown.reset_s))
        if not refused:
            return None
        counters = self.counters
        counters.rate_limited += 1
        for bucket, _, _ in refused:
            if isinstance(bucket, tuple):
                counters.rate_limited_by_key[str(key)] += 1
            else:
                counters.rate_limited_by_model[model] += 1
        return _rate_limited(wire, shown.reset_s, headers)

    async def _answer(
        self,
        request: web.Request,
        inbound: Inbound,
        digest: int,
        limits: ModelSettings,
        headers: dict[str, str],
        *,
        replay: bool,
        numbers: list[int] | None = None,
    ) -> web.StreamResponse:
        attempt = self._ledger.next_attempt(digest)
        draw = random.Random(derive_seed(self.settings.seed, "attempt", digest, attempt))
        fault = self._draw_fault(draw, limits)
        latency = (limits.latency_s or 0.0) + draw.random() * (limits.jitter_s or 0.0)
        if latency > 0:
            await asyncio.sleep(latency)
        if fault is not None:
            self.counters.faults[fault] += 1
            return await inject_fault(
                request, fault, inbound, draw, self.settings.timeout_fault_s, headers
            )
        # A seeded request is replayed: its samples count from 0 every time. A client that
        # tells which samples it draws gets those, whatever this server drew before.
        if numbers is None:
            first = 0 if replay else self._ledger.take_samples(digest, inbound.n)
            numbers = list(range(first, first + inbound.n))
        first = numbers[0]
        choices = [self._choice(inbound, digest, number, limits) for number in numbers]
        if inbound.stream:
            return await self._stream(request, inbound, choices, headers, digest, first)
        return self._reply(inbound, choices, headers, digest, first, latency)

    def _draw_fault(self, draw: random.Random, limits: ModelSettings) -> FaultKind | None:
        settings = self.settings
        rate = settings.fault_rate if limits.fault_rate is None else limits.fault_rate
        if rate <= 0 or not settings.faults:
            return None
        if draw.random() >= rate:
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
        rng = random.Random(derive_seed(self.settings.seed, inbound.model, digest, sample))
        known = self.answer_key.find(prompt.text, inbound.question_id)
        if self.grounded is not None and known is not None:
            question = self.grounded.question(known, inbound.question_id)
            if question is not None:
                draw = sample // DRAW_STRIDE
                text = self.grounded.reply(prompt, known, question, inbound.model, rng, draw)
                if text is not None:
                    return _truncate(f"{SIMULATED_MARK}\n{text}", inbound.max_tokens)
        context = ReplyContext(
            rng=rng,
            skill=self.settings.skill if limits.skill is None else limits.skill,
            known=known,
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

    async def _stream(
        self,
        request: web.Request,
        inbound: Inbound,
        choices: list[Choice],
        headers: dict[str, str],
        digest: int,
        sample: int,
    ) -> web.StreamResponse:
        prompt_tokens = sum(estimate_tokens(text) for _, text in inbound.messages)
        completion_tokens = sum(estimate_tokens(choice.text) for choice in choices)
        response = await stream_reply(
            request,
            inbound,
            choices,
            reply_id=f"{derive_seed(digest, sample):016x}",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            headers=headers,
            interval_s=self.settings.chunk_interval_s,
        )
        # Counted once the whole stream is out, so a stream cut short is no reply.
        self.counters.replies += 1
        self.counters.prompt_tokens += prompt_tokens
        self.counters.completion_tokens += completion_tokens
        return response

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
        self.reset()
        return _json(200, self.counters.snapshot().model_dump(), {})

    async def requests(self, request: web.Request) -> web.Response:
        return _json(200, [record.model_dump() for record in self.log or ()], {})

    def reset(self) -> None:
        self.counters.reset()
        if self.log is not None:
            self.log.clear()


_EPOCH = "1970-01-01T00:00:00Z"


def _told_samples(body: Any) -> list[int] | None:
    """The sample numbers a client tells (`SAMPLES_FIELD`), taken out of ``body`` so that
    they are no part of the request's identity; None when not told.

    Raises:
        BadRequest: the field is not a list of non-negative integers.
    """
    if not isinstance(body, dict) or SAMPLES_FIELD not in body:
        return None
    numbers = body.pop(SAMPLES_FIELD)
    if not isinstance(numbers, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers
    ):
        raise BadRequest(f"'{SAMPLES_FIELD}' must be a list of sample numbers (integers >= 0)")
    return numbers


def _without_choice_count(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` less its number of choices (OpenAI's ``n``, Gemini's ``candidateCount``)."""
    body = {name: value for name, value in body.items() if name != "n"}
    config = body.get("generationConfig")
    if isinstance(config, dict) and "candidateCount" in config:
        body["generationConfig"] = {k: v for k, v in config.items() if k != "candidateCount"}
    return body


def _canonical(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def _digest(wire: Wire, url_model: str | None, body: Any, seed_header: str | None) -> int:
    """What identifies a request: its wire, URL model, body and replay seed header."""
    if seed_header is None:
        # Unchanged by the header's introduction, so replies of old runs stay the same.
        return derive_seed(wire, url_model, _canonical(body))
    return derive_seed(wire, url_model, _canonical(body), SEED_HEADER, seed_header)


def _api_key(request: web.Request, wire: Wire) -> str | None:
    """The key a request carries, where its wire puts it (a bearer token on any wire)."""
    headers = request.headers
    authorization = headers.get("authorization", "").strip()
    if authorization and authorization.lower() != "bearer":
        scheme, _, token = authorization.partition(" ")
        # Any other scheme (a SigV4 signature) counts as a credential, named by itself.
        return token.strip() if scheme.lower() == "bearer" else authorization
    if wire is Wire.ANTHROPIC:
        return headers.get("x-api-key", "").strip() or None
    if wire is Wire.GOOGLE:
        return headers.get("x-goog-api-key", "").strip() or request.query.get("key") or None
    return None


def _truncate(text: str, max_tokens: int | None) -> Choice:
    if max_tokens is None or estimate_tokens(text) <= max_tokens:
        return Choice(text)
    keep = max(1, int(max_tokens / 1.3))
    # The first `keep` words with their separators (line breaks included).
    words = re.findall(r"\S+\s*", text)[:keep]
    return Choice("".join(words).rstrip(), truncated=True)


def _json(status: int, body: Any, headers: dict[str, str]) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(body), headers=headers, content_type="application/json"
    )


def _error(
    wire: Wire,
    kind: ErrorKind,
    message: str,
    headers: dict[str, str],
    *,
    param: str | None = None,
    code: str | None = None,
) -> web.Response:
    status, body, extra = error_reply(wire, kind, message, param=param, code=code)
    return _json(status, body, {**headers, **extra})


def _rate_limited(wire: Wire, reset_s: float, headers: dict[str, str]) -> web.Response:
    retry_after = {
        "retry-after": str(max(1, int(-(-reset_s // 1)))),
        "retry-after-ms": str(max(1, round(reset_s * 1000))),
    }
    message = "rate limit reached for requests per minute; retry after the time given"
    return _error(wire, ErrorKind.RATE_LIMIT, message, {**headers, **retry_after})
