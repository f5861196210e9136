"""Reply bodies, error bodies and headers in each wire format's exact shape."""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ._wire import Inbound, Wire

__all__ = [
    "Choice",
    "ErrorKind",
    "error_reply",
    "quota_message",
    "rate_limit_headers",
    "reply_body",
    "request_id_headers",
]


class ErrorKind(enum.Enum):
    """The errors the simulated provider answers with."""

    AUTH = "auth"
    BAD_REQUEST = "bad_request"
    NOT_FOUND = "not_found"
    QUOTA = "quota"
    RATE_LIMIT = "rate_limit"
    SERVER = "server"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class Choice:
    """One generated text, and whether the token budget cut it short."""

    text: str
    truncated: bool = False


_STATUS = {
    ErrorKind.AUTH: 401,
    ErrorKind.BAD_REQUEST: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.QUOTA: 429,
    ErrorKind.RATE_LIMIT: 429,
    ErrorKind.SERVER: 500,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.TIMEOUT: 504,
}
_OPENAI_ERRORS = {
    ErrorKind.AUTH: ("invalid_request_error", "invalid_api_key"),
    ErrorKind.BAD_REQUEST: ("invalid_request_error", None),
    ErrorKind.NOT_FOUND: ("invalid_request_error", "model_not_found"),
    ErrorKind.QUOTA: ("insufficient_quota", "insufficient_quota"),
    ErrorKind.RATE_LIMIT: ("requests", "rate_limit_exceeded"),
    ErrorKind.SERVER: ("server_error", None),
    ErrorKind.UNAVAILABLE: ("server_error", "service_unavailable"),
    ErrorKind.TIMEOUT: ("server_error", "timeout"),
}
_ANTHROPIC_ERRORS = {
    ErrorKind.AUTH: "authentication_error",
    ErrorKind.BAD_REQUEST: "invalid_request_error",
    ErrorKind.NOT_FOUND: "not_found_error",
    ErrorKind.QUOTA: "invalid_request_error",
    ErrorKind.RATE_LIMIT: "rate_limit_error",
    ErrorKind.SERVER: "api_error",
    ErrorKind.UNAVAILABLE: "overloaded_error",
    ErrorKind.TIMEOUT: "timeout_error",
}
_GOOGLE_ERRORS = {
    ErrorKind.AUTH: "UNAUTHENTICATED",
    ErrorKind.BAD_REQUEST: "INVALID_ARGUMENT",
    ErrorKind.NOT_FOUND: "NOT_FOUND",
    ErrorKind.QUOTA: "RESOURCE_EXHAUSTED",
    ErrorKind.RATE_LIMIT: "RESOURCE_EXHAUSTED",
    ErrorKind.SERVER: "INTERNAL",
    ErrorKind.UNAVAILABLE: "UNAVAILABLE",
    ErrorKind.TIMEOUT: "DEADLINE_EXCEEDED",
}
_BEDROCK_ERRORS = {
    ErrorKind.AUTH: "UnrecognizedClientException",
    ErrorKind.BAD_REQUEST: "ValidationException",
    ErrorKind.NOT_FOUND: "ResourceNotFoundException",
    ErrorKind.QUOTA: "ServiceQuotaExceededException",
    ErrorKind.RATE_LIMIT: "ThrottlingException",
    ErrorKind.SERVER: "InternalServerException",
    ErrorKind.UNAVAILABLE: "ServiceUnavailableException",
    ErrorKind.TIMEOUT: "ModelTimeoutException",
}


def error_reply(
    wire: Wire,
    kind: ErrorKind,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The status, body and extra headers of an error in ``wire``'s format (``param`` and
    ``code`` fill OpenAI's fields of those names)."""
    status = _STATUS[kind]
    if wire is Wire.OPENAI:
        kind_name, kind_code = _OPENAI_ERRORS[kind]
        error: dict[str, Any] = {
            "message": message,
            "type": kind_name,
            "param": param,
            "code": code or kind_code,
        }
        return status, {"error": error}, {}
    if wire is Wire.ANTHROPIC:
        if kind is ErrorKind.UNAVAILABLE:
            status = 529  # Anthropic's "overloaded" status
        elif kind is ErrorKind.QUOTA:
            status = 400  # an account out of credit is a bad request there, not a 429
        body = {"type": "error", "error": {"type": _ANTHROPIC_ERRORS[kind], "message": message}}
        return status, body, {}
    if wire is Wire.GOOGLE:
        error = {"code": status, "message": message, "status": _GOOGLE_ERRORS[kind]}
        return status, {"error": error}, {}
    if kind is ErrorKind.QUOTA:
        status = 400  # ServiceQuotaExceededException is a 400 on Bedrock
    return status, {"message": message}, {"x-amzn-ErrorType": _BEDROCK_ERRORS[kind]}


_QUOTA_MESSAGES = {
    Wire.OPENAI: "You exceeded your current quota, please check your plan and billing details.",
    Wire.ANTHROPIC: "Your credit balance is too low to access the Anthropic API.",
    Wire.GOOGLE: "You exceeded your current quota, please check your plan and billing details.",
    Wire.BEDROCK: "The request exceeds the service quota for your account.",
}


def quota_message(wire: Wire) -> str:
    """The message each API sends for a key or account out of quota (or credit)."""
    return _QUOTA_MESSAGES[wire]


def request_id_headers(wire: Wire, request_id: str) -> dict[str, str]:
    """The request-id header(s) each provider sends."""
    headers = {"x-request-id": request_id}
    if wire is Wire.ANTHROPIC:
        headers["request-id"] = request_id
    elif wire is Wire.BEDROCK:
        headers["x-amzn-RequestId"] = request_id
    return headers


def rate_limit_headers(wire: Wire, limit: int, remaining: int, reset_s: float) -> dict[str, str]:
    """Rate-limit headers: OpenAI's ``x-ratelimit-*`` (all wires), Anthropic's own too."""
    reset = f"{round(reset_s * 1000)}ms" if reset_s < 1 else f"{round(reset_s, 3):g}s"
    headers = {
        "x-ratelimit-limit-requests": str(limit),
        "x-ratelimit-remaining-requests": str(remaining),
        "x-ratelimit-reset-requests": reset,
    }
    if wire is Wire.ANTHROPIC:
        at = datetime.now(UTC) + timedelta(seconds=reset_s)
        headers["anthropic-ratelimit-requests-limit"] = str(limit)
        headers["anthropic-ratelimit-requests-remaining"] = str(remaining)
        headers["anthropic-ratelimit-requests-reset"] = at.isoformat(timespec="seconds")
    return headers


def reply_body(
    inbound: Inbound,
    choices: Sequence[Choice],
    *,
    reply_id: str,
    prompt_tokens: int,
    completion_tokens: int,
    latency_ms: int = 0,
) -> dict[str, Any]:
    """A successful reply in ``inbound.wire``'s format (``choices`` may be empty: a fault)."""
    total = prompt_tokens + completion_tokens
    if inbound.wire is Wire.OPENAI:
        return {
            "id": f"chatcmpl-{reply_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": inbound.model,
            "choices": [
                {
                    "index": index,
                    "message": {"role": "assistant", "content": choice.text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "length" if choice.truncated else "stop",
                }
                for index, choice in enumerate(choices)
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": total,
            },
            "system_fingerprint": "fp_simulated",
        }
    if inbound.wire is Wire.ANTHROPIC:
        return {
            "id": f"msg_{reply_id}",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": choice.text} for choice in choices[:1]],
            "model": inbound.model,
            "stop_reason": _stop(choices, "max_tokens", "end_turn"),
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens},
        }
    if inbound.wire is Wire.GOOGLE:
        return {
            "candidates": [
                {
                    "content": {"parts": [{"text": choice.text}], "role": "model"},
                    "finishReason": "MAX_TOKENS" if choice.truncated else "STOP",
                    "index": index,
                }
                for index, choice in enumerate(choices)
            ],
            "usageMetadata": {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": completion_tokens,
                "totalTokenCount": total,
            },
            "modelVersion": inbound.model,
            "responseId": reply_id,
        }
    return {
        "output": {
            "message": {
                "role": "assistant",
                "content": [{"text": choice.text} for choice in choices[:1]],
            }
        },
        "stopReason": _stop(choices, "max_tokens", "end_turn"),
        "usage": {
            "inputTokens": prompt_tokens,
            "outputTokens": completion_tokens,
            "totalTokens": total,
        },
        "metrics": {"latencyMs": latency_ms},
    }


def _stop(choices: Sequence[Choice], truncated: str, finished: str) -> str:
    return truncated if choices and choices[0].truncated else finished
