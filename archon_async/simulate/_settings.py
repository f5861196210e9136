"""Settings of the simulated provider (a pydantic model, loadable from a JSON file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FAULT_KINDS", "FaultKind", "ModelSettings", "SimulationSettings"]

FaultKind = Literal["5xx", "timeout", "reset", "malformed", "empty"]
_T = TypeVar("_T")

FAULT_KINDS: tuple[FaultKind, ...] = ("5xx", "timeout", "reset", "malformed", "empty")


class ModelSettings(BaseModel):
    """Per-model overrides; a field left unset takes the server-wide value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_s: float | None = Field(default=None, ge=0)
    jitter_s: float | None = Field(default=None, ge=0)
    rpm: int | None = Field(default=None, ge=1)
    skill: float | None = Field(default=None, ge=0, le=1)


class SimulationSettings(BaseModel):
    """How the simulated provider behaves.

    Attributes:
        host: the interface to listen on (loopback by default).
        port: the port; 0 picks a free one.
        latency_s: fixed latency added to every reply.
        jitter_s: extra latency, uniform in ``[0, jitter_s]``, drawn per request from ``seed``.
        rpm: requests per minute allowed per model (sliding 60 s window); None = unlimited.
        models: per-model overrides of latency, jitter, rpm and skill.
        fault_rate: probability that a request gets a fault instead of a reply.
        faults: the kinds of fault to draw from: ``5xx``, ``timeout``, ``reset``,
            ``malformed``, ``empty``.
        timeout_fault_s: how long a ``timeout`` fault holds the request before answering 504.
        seed: seeds every random choice (latency jitter, faults, replies, skill).
        skill: probability that a model answers an answer-key question correctly.
        answer_key: question text (or question id) -> correct answer.
        reply_tokens: about how many words a generic reply has.
        require_key: reject requests that carry no API key with 401.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    latency_s: float = Field(default=0.0, ge=0)
    jitter_s: float = Field(default=0.0, ge=0)
    rpm: int | None = Field(default=None, ge=1)
    models: dict[str, ModelSettings] = Field(default_factory=dict)
    fault_rate: float = Field(default=0.0, ge=0, le=1)
    faults: list[FaultKind] = Field(default_factory=lambda: list(FAULT_KINDS))
    timeout_fault_s: float = Field(default=30.0, ge=0)
    seed: int = 0
    skill: float = Field(default=0.7, ge=0, le=1)
    answer_key: dict[str, str] = Field(default_factory=dict)
    reply_tokens: int = Field(default=60, ge=1)
    require_key: bool = False

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
        )


def _pick(override: _T | None, default: _T) -> _T:
    return default if override is None else override
