"""Reading requests of the four wire formats into one shape.

OpenAI chat completions, Anthropic messages, Gemini generateContent and Bedrock Converse
requests all become an `Inbound`: the model, the conversation as (role, text) pairs, the
completion budget and the number of choices asked for.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["BadRequest", "Inbound", "Wire", "parse_request"]


class Wire(enum.StrEnum):
    """The wire formats the simulated provider speaks."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GOOGLE = "google"
    BEDROCK = "bedrock"


class BadRequest(ValueError):
    """The request body cannot be served; answered with 400 in the wire's error shape.

    Attributes:
        param: the parameter at fault, for OpenAI's ``error.param``.
        code: OpenAI's ``error.code`` (``unsupported_parameter``...).
    """

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.param = param
        self.code = code


@dataclass(frozen=True, slots=True)
class Inbound:
    """One request, whatever its wire format.

    Attributes:
        wire: the format it came in.
        model: the model asked for.
        messages: (role, text) pairs in order, system text first if any.
        max_tokens: the completion budget, if the request set one.
        n: how many choices to return (OpenAI ``n``, Gemini ``candidateCount``).
        question_id: an answer-key id carried in the request's metadata, if any.
        seed: the sampling seed the request asks for (OpenAI ``seed``, Gemini
            ``generationConfig.seed``): such a request is replayed, not resampled.
        stream: the reply is asked for as a stream (``"stream": true``, or Gemini's
            ``:streamGenerateContent``).
        include_usage: a streamed OpenAI reply ends with a usage chunk.
    """

    wire: Wire
    model: str
    messages: tuple[tuple[str, str], ...]
    max_tokens: int | None = None
    n: int = 1
    question_id: str | None = None
    seed: int | None = None
    stream: bool = False
    include_usage: bool = False

    def system_text(self) -> str:
        """The system message's text, or "" when there is none."""
        return next((text for role, text in self.messages if role == "system"), "")

    def last_user_text(self) -> str:
        """The text of the last user message (or of the last message, if none is a user's)."""
        for role, text in reversed(self.messages):
            if role == "user":
                return text
        return self.messages[-1][1] if self.messages else ""


def parse_request(
    wire: Wire, body: Any, model: str | None = None, *, api_version: str | None = None
) -> Inbound:
    """Read ``body`` (decoded JSON) in ``wire``'s format; ``model`` comes from the URL if given.

    Args:
        wire: the format.
        body: the decoded JSON body.
        model: the model named in the URL (Gemini, Bedrock).
        api_version: the ``anthropic-version`` header, for the Anthropic wire.

    Raises:
        BadRequest: the body is not a request of that format (or of that API version).
    """
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    if wire is Wire.ANTHROPIC and api_version is not None and api_version >= _NO_SAMPLING:
        for name in _SAMPLING:
            if name in body:
                raise BadRequest(f"{name}: Extra inputs are not permitted")
    parser = _PARSERS[wire]
    return parser(body, model)


def _openai(body: Mapping[str, Any], _: str | None) -> Inbound:
    messages = tuple(_role_text(message) for message in _list(body, "messages"))
    return Inbound(
        Wire.OPENAI,
        _model(body.get("model")),
        messages,
        max_tokens=_int_or_none(body.get("max_completion_tokens") or body.get("max_tokens")),
        n=_choices(body.get("n")),
        question_id=_question_id(body.get("metadata")),
        seed=_seed(body.get("seed")),
        stream=_flag(body, "stream"),
        include_usage=_include_usage(body),
    )


# Anthropic API version 2026-10-21 (the default of SDK 2.x) removed the sampling
# parameters: a request that sets any of them is refused, whatever its value.
_NO_SAMPLING = "2026-10-21"
_SAMPLING = ("temperature", "top_p", "top_k")
# The roles the messages API takes inside "messages" (the system prompt is a field).
_ANTHROPIC_ROLES = ("user", "assistant")


def _anthropic(body: Mapping[str, Any], _: str | None) -> Inbound:
    # Checked in the API's order, with its wording, so a client's error handling sees
    # what the real API would send.
    model = _model(body.get("model"))
    if body.get("max_tokens") is None:
        raise BadRequest("max_tokens: Field required")
    system = body.get("system")
    messages = [("system", _text(system))] if system else []
    for message in _list(body, "messages"):
        role, text = _role_text(message)
        if role == "system":
            raise BadRequest(
                'messages: Unexpected role "system". The Messages API accepts a top-level '
                '`system` parameter, not "system" as an input message role.'
            )
        if role not in _ANTHROPIC_ROLES:
            raise BadRequest(
                f"messages: Input tag '{role}' found using 'role' does not match "
                "any of the expected tags: 'user', 'assistant'"
            )
        messages.append((role, text))
    return Inbound(
        Wire.ANTHROPIC,
        model,
        tuple(messages),
        max_tokens=_int_or_none(body.get("max_tokens")),
        question_id=_question_id(body.get("metadata")),
        stream=_flag(body, "stream"),
    )


def _google(body: Mapping[str, Any], model: str | None) -> Inbound:
    system = body.get("systemInstruction") or body.get("system_instruction")
    messages = [("system", _parts_text(system))] if system else []
    for content in _list(body, "contents"):
        role = "assistant" if content.get("role") == "model" else "user"
        messages.append((role, _parts_text(content)))
    config = body.get("generationConfig") or {}
    return Inbound(
        Wire.GOOGLE,
        _model(model),
        tuple(messages),
        max_tokens=_int_or_none(config.get("maxOutputTokens")),
        n=_choices(config.get("candidateCount")),
        seed=_seed(config.get("seed")),
    )


def _bedrock(body: Mapping[str, Any], model: str | None) -> Inbound:
    system = body.get("system") or []
    messages = [("system", _text(system))] if system else []
    messages += [_role_text(message) for message in _list(body, "messages")]
    config = body.get("inferenceConfig") or {}
    return Inbound(
        Wire.BEDROCK,
        _model(model),
        tuple(messages),
        max_tokens=_int_or_none(config.get("maxTokens")),
    )


def _list(body: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = body.get(key)
    if not isinstance(value, list) or not value:
        raise BadRequest(f"'{key}' must be a non-empty list")
    if not all(isinstance(item, dict) for item in value):
        raise BadRequest(f"every item of '{key}' must be an object")
    return value


def _model(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequest("'model' must be a non-empty string")
    return value


def _role_text(message: Mapping[str, Any]) -> tuple[str, str]:
    role = message.get("role")
    if not isinstance(role, str):
        raise BadRequest("every message needs a 'role'")
    return role, _text(message.get("content"))


def _text(content: Any) -> str:
    """Text of a string or of a list of content blocks (``{"type": "text", "text": ...}``)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            block["text"]
            for block in content
            if isinstance(block, dict) and isinstance(block.get("text"), str)
        )
    raise BadRequest("message content must be a string or a list of content blocks")


def _parts_text(content: Any) -> str:
    if not isinstance(content, dict):
        raise BadRequest("contents must be objects with 'parts'")
    return _text(content.get("parts"))


def _int_or_none(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequest("token limits must be positive integers")
    return value


def _choices(value: Any) -> int:
    if value is None:
        return 1
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 128:
        raise BadRequest("the number of choices must be an integer from 1 to 128")
    return value


def _seed(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest("'seed' must be an integer")
    return value


def _flag(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"'{key}' must be a boolean")
    return bool(value)


def _include_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not isinstance(options, dict) or not body.get("stream"):
        raise BadRequest("'stream_options' must be an object, and is only allowed with 'stream'")
    return bool(options.get("include_usage"))


def _question_id(metadata: Any) -> str | None:
    if isinstance(metadata, dict) and isinstance(metadata.get("question_id"), str):
        return str(metadata["question_id"])
    return None


_PARSERS = {
    Wire.OPENAI: _openai,
    Wire.ANTHROPIC: _anthropic,
    Wire.GOOGLE: _google,
    Wire.BEDROCK: _bedrock,
}
