"""Settings of the simulated provider (a pydantic model, loadable from a JSON file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._effects import GroundTruth

__all__ = ["FAULT_KINDS", "FaultKind", "KeySettings", "ModelSettings", "SimulationSettings"]

FaultKind = Literal["5xx", "timeout", "reset", "malformed", "empty"]
KeyRefusal = Literal["invalid", "quota"]
RateLimiterKind = Literal["sliding_window", "token_bucket"]
_T = TypeVar("_T")

FAULT_KINDS: tuple[FaultKind, ...] = ("5xx", "timeout", "reset", "malformed", "empty")


class ModelSettings(BaseModel):
    """Per-model overrides; a field left unset takes the server-wide value.

    ``max_n`` is the most samples one request may ask of the model (OpenAI's ``n``,
    Gemini's ``candidateCount``); more is refused with the API's 400, as a model or vendor
    that takes fewer choices does. Unset: the wire's documented limit (OpenAI 128, Gemini
    8; Groq's path 1).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_s: float | None = Field(default=None, ge=0)
    jitter_s: float | None = Field(default=None, ge=0)
    rpm: int | None = Field(default=None, ge=1)
    skill: float | None = Field(default=None, ge=0, le=1)
    max_n: int | None = Field(default=None, ge=1)
    #: Share of this model's requests that get a fault (1: the model is down); unset: the
    #: server's ``fault_rate``. The kinds are the server's ``faults``.
    fault_rate: float | None = Field(default=None, ge=0, le=1)
    #: Tokens of prompt + completion the model takes; more is refused with the API's
    #: context-length 400 (see ``_model_refusals``). Unset: no limit.
    context_window: int | None = Field(default=None, ge=1)
    #: Words whose presence in a prompt makes the model's content filter refuse it.
    content_filter: tuple[str, ...] = ()


class KeySettings(BaseModel):
    """How the server treats requests that carry one particular API key.

    Attributes:
        rpm: requests per minute allowed to this key (over ``rpm_window_s``, like the
            model limits, which apply too); None = no limit of its own.
        refuse: ``"invalid"`` answers 401 (a revoked key); ``"quota"`` answers as each
            API does for a key out of credit (OpenAI and Gemini 429 with a quota error,
            Anthropic 400 "credit balance is too low", Bedrock 400
            ServiceQuotaExceededException), never with a Retry-After.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rpm: int | None = Field(default=None, ge=1)
    refuse: KeyRefusal | None = None


class SimulationSettings(BaseModel):
    """How the simulated provider behaves.

    Attributes:
        host: the interface to listen on (loopback by default).
        port: the port; 0 picks a free one.
        latency_s: fixed latency added to every reply.
        jitter_s: extra latency, uniform in ``[0, jitter_s]``, drawn per request from ``seed``.
        rpm: requests per minute allowed per model; None = unlimited.
        rpm_window_s: the sliding window over which rpm limits are counted. A window
            shorter than 60 s allows ``rpm * rpm_window_s / 60`` requests in it (rounded
            down; it must be at least one), as APIs that enforce a per-minute limit over
            shorter periods do; tests use it to reach and leave a limit within a second.
        rate_limiter: how rpm limits are counted: ``sliding_window`` (at most the
            allowance in any ``rpm_window_s`` seconds) or ``token_bucket`` (a bucket of the
            allowance, refilled continuously at rpm / 60 per second, as Anthropic documents).
        models: per-model overrides of latency, jitter, rpm and skill.
        keys: per-API-key behaviour (a limit of its own, or a refusal), by the key itself.
            Only the keys listed here are named in stats and the request log.
        fault_rate: probability that a request gets a fault instead of a reply.
        faults: the kinds of fault to draw from: ``5xx``, ``timeout``, ``reset``,
            ``malformed``, ``empty``.
        timeout_fault_s: how long a ``timeout`` fault holds the request before answering 504.
        seed: seeds every random choice (latency jitter, faults, replies, skill).
        skill: probability that a model answers an answer-key question correctly.
        answer_key: question text (or question id) -> correct answer.
        reply_tokens: about how many words a generic reply has.
        require_key: reject requests that carry no API key with 401.
        chunk_interval_s: the pause between the pieces of a streamed reply (the first
            piece leaves after the latency).
        request_log: how many of the latest requests ``GET /requests`` (and
            `SimulatedServer.request_log`) lists; 0 keeps none.
        ground_truth: seeded effects every reply about one of its questions follows
            (generators, fusers, rankers, critics, verifiers, unit tests, judges: see
            ``_grounded``), so that an architecture's expected score is the exact one
            `archon_async.search.Truth` computes; None: the plain ``skill`` behaviour.
        enforce_request_rules: refuse, as the real APIs do, what their documentation
            forbids (reasoning-model parameters, Anthropic output limits, role order: see
            ``_rules``); off, any well-formed request is served.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    latency_s: float = Field(default=0.0, ge=0)
    jitter_s: float = Field(default=0.0, ge=0)
    rpm: int | None = Field(default=None, ge=1)
    rpm_window_s: float = Field(default=60.0, gt=0, le=3600)
    rate_limiter: RateLimiterKind = "sliding_window"
    models: dict[str, ModelSettings] = Field(default_factory=dict)
    keys: dict[str, KeySettings] = Field(default_factory=dict)
    fault_rate: float = Field(default=0.0, ge=0, le=1)
    faults: list[FaultKind] = Field(default_factory=lambda: list(FAULT_KINDS))
    timeout_fault_s: float = Field(default=30.0, ge=0)
    seed: int = 0
    skill: float = Field(default=0.7, ge=0, le=1)
    answer_key: dict[str, str] = Field(default_factory=dict)
    reply_tokens: int = Field(default=60, ge=1)
    require_key: bool = False
    request_log: int = Field(default=0, ge=0, le=1_000_000)
    enforce_request_rules: bool = True
    chunk_interval_s: float = Field(default=0.0, ge=0)
    ground_truth: GroundTruth | None = None

    @model_validator(mode="after")
    def _window_holds_a_request(self) -> SimulationSettings:
        limits = [self.rpm, *(m.rpm for m in self.models.values())]
        limits += [key.rpm for key in self.keys.values()]
        smallest = min((rpm for rpm in limits if rpm is not None), default=None)
        if smallest is not None and self.window_allowance(smallest) < 1:
            raise ValueError(
                f"rpm_window_s={self.rpm_window_s:g} is too short for rpm={smallest}: "
                "the window must hold at least one request"
            )
        return self

    def window_allowance(self, rpm: int) -> int:
        """How many requests an ``rpm`` limit admits within one ``rpm_window_s`` window."""
        # The epsilon keeps 60 rpm over 1.0 s at one request despite float rounding.
        return int(rpm * self.rpm_window_s / 60.0 + 1e-9)

    @classmethod
    def from_file(cls, path: str | Path) -> SimulationSettings:
        """Load settings from a JSON file whose keys are this model's fields."""
        return cls.model_validate(orjson.loads(Path(path).read_bytes()))

    def for_model(self, model: str) -> ModelSettings:
        """The effective latency, jitter, rpm and skill of ``model``."""
        override = self.models.get(model) or ModelSettings()
        return ModelSettings(
            latency_s=_pick(override.latency_s, self.latency_s),
            jitter_s=_pick(override.jitter_s, self.jitter_s),
            rpm=_pick(override.rpm, self.rpm),
            skill=_pick(override.skill, self.skill),
            max_n=override.max_n,
            fault_rate=_pick(override.fault_rate, self.fault_rate),
            context_window=override.context_window,
            content_filter=override.content_filter,
        )


def _pick(override: _T | None, default: _T) -> _T:
    return default if override is None else override
