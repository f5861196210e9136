"""The chat-completions request as the server reads it, and the replies it writes.

Shapes follow OpenAI's API reference for ``POST /v1/chat/completions`` (the
``chat.completion`` object, the ``chat.completion.chunk`` object of a stream, ``usage``).
Fields the architecture cannot honour (tools, logprobs, JSON modes) are refused with a 400
naming the field, rather than silently ignored; ``temperature``, ``top_p`` and the token
budget apply to the answer layer (the calls that write the answer), as `Engine.generate`
takes them; knobs that have no meaning for an architecture (penalties, ``user``,
``metadata``) are ignored. ``stop`` (a string or up to 4) cuts each answer before its first
stop sequence (`._stop`). ``seed`` is a 64-bit signed integer, as servers of the API take
it (a JSON number past that range is not read exactly by every decoder).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import ServeError

__all__ = [
    "CompletionRequest",
    "chunk",
    "completion",
    "parse_request",
    "usage_of",
]

#: The most choices one request may ask for (each is a whole run of the architecture).
MAX_CHOICES = 16
#: The most stop sequences a request may give (OpenAI's limit).
MAX_STOP_SEQUENCES = 4
# Fields whose presence (with a value that asks for something) the server refuses.
_UNSUPPORTED = {
    "tools": "tool calls are not supported: an architecture answers with text",
    "functions": "function calls are not supported: an architecture answers with text",
    "logprobs": "logprobs are not available: the answer is written by several models",
    "top_logprobs": "logprobs are not available: the answer is written by several models",
    "audio": "audio output is not supported",
    "prediction": "predicted outputs are not supported",
}
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """A validated chat-completions request.

    Attributes:
        model: the architecture asked for (its config's ``name``).
        messages: role/content dicts (``developer`` read as ``system``).
        stream: answer as server-sent events.
        include_usage: with ``stream``, end with a chunk that carries the usage.
        n: how many choices (each a run of the architecture).
        temperature: the answer layer's temperature, if the request sets one.
        top_p: the answer layer's nucleus sampling (0 to 1), if the request sets one.
        max_tokens: the answer layer's budget (``max_completion_tokens`` or ``max_tokens``).
        seed: the seed of the runs' random choices (choice i uses seed + i).
        stop: stop sequences: each answer ends before the first one in it.
    """

    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    include_usage: bool = False
    n: int = 1
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()


def parse_request(body: Any) -> CompletionRequest:
    """Read a decoded JSON body.

    Raises:
        ServeError: 400 naming the field that is missing, malformed or unsupported.
    """
    if not isinstance(body, dict):
        raise ServeError(400, "the request body must be a JSON object")
    _refuse_unsupported(body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ServeError(400, "'model' must be the name of a served architecture", param="model")
    stream = _optional(body, "stream", bool) or False
    options = _optional(body, "stream_options", dict)
    include_usage = bool(options and options.get("include_usage"))
    if options is not None and not stream:
        raise ServeError(
            400, "'stream_options' is only allowed when 'stream' is true", param="stream_options"
        )
    n = _optional(body, "n", int)
    if n is not None and not 1 <= n <= MAX_CHOICES:
        raise ServeError(400, f"'n' must be from 1 to {MAX_CHOICES}", param="n")
    temperature = _optional(body, "temperature", float)
    if temperature is not None and not 0.0 <= temperature <= 2.0:
        raise ServeError(400, "'temperature' must be from 0 to 2", param="temperature")
    top_p = _optional(body, "top_p", float)
    if top_p is not None and not 0.0 <= top_p <= 1.0:
        raise ServeError(400, "'top_p' must be from 0 to 1", param="top_p")
    budget_field = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    max_tokens = _optional(body, budget_field, int)
    if max_tokens is not None and max_tokens < 1:
        raise ServeError(400, f"'{budget_field}' must be at least 1", param=budget_field)
    return CompletionRequest(
        model=model,
        messages=_messages(body.get("messages")),
        stream=stream,
        include_usage=include_usage,
        n=n or 1,
        temperature=temperature,
        max_tokens=max_tokens,
        seed=_seed(body.get("seed")),
        top_p=top_p,
        stop=_stop_sequences(body.get("stop")),
    )


def _refuse_unsupported(body: Mapping[str, Any]) -> None:
    for name, why in _UNSUPPORTED.items():
        if body.get(name) not in (None, False, [], {}):
            raise ServeError(400, f"'{name}': {why}", param=name)
    choice = body.get("tool_choice")
    if choice not in (None, "none"):
        raise ServeError(400, "'tool_choice': tool calls are not supported", param="tool_choice")
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type", "text") != "text":
        raise ServeError(
            400,
            "'response_format': only text answers are supported (no JSON modes)",
            param="response_format",
        )
    modalities = body.get("modalities")
    if modalities not in (None, ["text"]):
        raise ServeError(400, "'modalities': only text is supported", param="modalities")


#: The seeds a request may give: a 64-bit signed integer's range.
SEED_RANGE = (-(2**63), 2**63 - 1)


def _seed(value: Any) -> int | None:
    """``seed``: a whole number in `SEED_RANGE` (a larger one reaches us as a float, or
    not exactly, from the JSON decoder), or null."""
    low, high = SEED_RANGE
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    raise ServeError(400, f"'seed' must be an integer from {low} to {high} (64-bit)", param="seed")


def _stop_sequences(value: Any) -> tuple[str, ...]:
    """``stop`` as OpenAI's API takes it: null, a string, or a list of up to 4 strings
    (an empty string or list means none)."""
    if value is None or value == "":
        return ()
    sequences = [value] if isinstance(value, str) else value
    if not isinstance(sequences, list) or not all(isinstance(s, str) for s in sequences):
        raise ServeError(400, "'stop' must be a string or a list of strings", param="stop")
    if len(sequences) > MAX_STOP_SEQUENCES:
        raise ServeError(
            400,
            f"'stop' has {len(sequences)} sequences: give at most {MAX_STOP_SEQUENCES}",
            param="stop",
        )
    if "" in sequences:
        raise ServeError(400, "'stop' sequences must not be empty strings", param="stop")
    return tuple(dict.fromkeys(sequences))


def _optional(body: Mapping[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if value is None:
        return None
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        article = {"bool": "a boolean", "int": "an integer", "float": "a number"}
        raise ServeError(
            400, f"'{name}' must be {article.get(kind.__name__, 'an object')}", param=name
        )
    return value


def _messages(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise ServeError(400, "'messages' must be a non-empty list", param="messages")
    messages = []
    for index, item in enumerate(value):
        where = f"messages[{index}]"
        if not isinstance(item, dict):
            raise ServeError(400, f"'{where}' must be an object", param=where)
        role = _ROLES.get(item.get("role"))  # type: ignore[arg-type]
        if role is None:
            raise ServeError(
                400,
                f"'{where}.role' is {item.get('role')!r}: use system, developer, user or "
                "assistant (tool messages are not supported)",
                param=f"{where}.role",
            )
        messages.append({"role": role, "content": item.get("content")})
    return messages


def usage_of(input_tokens: int, output_tokens: int) -> dict[str, int]:
    """OpenAI's ``usage`` object."""
    return {
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }


def completion(
    completion_id: str,
    model: str,
    answers: list[str],
    usage: dict[str, int],
    *,
    fingerprint: str,
    created: int | None = None,
) -> dict[str, Any]:
    """A ``chat.completion`` object: one choice per answer, in order."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created if created is not None else int(time.time()),
        "model": model,
        "system_fingerprint": fingerprint,
        "choices": [
            {
                "index": index,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
            for index, text in enumerate(answers)
        ],
        "usage": usage,
    }


def chunk(
    completion_id: str,
    model: str,
    created: int,
    fingerprint: str,
    *,
    index: int | None = None,
    delta: dict[str, Any] | None = None,
    finish_reason: str | None = None,
    usage: dict[str, int] | None = None,
    include_usage: bool = False,
) -> dict[str, Any]:
    """A ``chat.completion.chunk``: one choice's delta, or (index None) the usage chunk.

    With ``include_usage`` every chunk carries ``"usage": null`` but the last one, as
    OpenAI's streams do.
    """
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": fingerprint,
        "choices": []
        if index is None
        else [
            {
                "index": index,
                "delta": delta or {},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
    }
    if include_usage:
        body["usage"] = usage
    return body
