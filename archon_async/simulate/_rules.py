"""The providers' documented request rules, enforced as the real APIs enforce them.

A request the real API would refuse is refused here too, with that API's status, error
shape and wording, so that a configuration or an adapter that would fail in production
fails against the simulated provider:

* OpenAI reasoning models (o-series, gpt-5 family): ``max_tokens`` is refused (they take
  ``max_completion_tokens``), so are a ``temperature`` other than 1 and ``top_p``,
  ``stop``, ``presence_penalty``, ``frequency_penalty``, ``logprobs``; o1-mini and
  o1-preview refuse a system message.
* Anthropic messages: ``max_tokens`` above the model's output limit (raised for
  claude-3-5-sonnet-20240620 by its ``anthropic-beta`` header); a conversation that opens
  with an assistant turn, or two turns of one role in a row.
* Bedrock Converse: the same role order, and ``maxTokens`` above a Claude model's limit.

The model facts (which models are reasoning models, the Claude output limits) are those of
`archon_async.providers.models`, which cites its sources.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from archon_async.providers.models import anthropic_output_limit, reasoning_model

from ._settings import ModelSettings
from ._wire import BadRequest, Inbound, Wire

__all__ = ["check_choices", "check_rules"]


def check_rules(
    wire: Wire, body: Mapping[str, Any], model: str, headers: Mapping[str, str]
) -> None:
    """Refuse a request the real API would refuse.

    Args:
        wire: the request's format.
        body: the decoded JSON body (already read as a valid request of ``wire``).
        model: the model asked for.
        headers: the request headers (``anthropic-beta`` raises some output limits).

    Raises:
        BadRequest: the API's 400, with its message (and, for OpenAI, ``param``/``code``).
    """
    if wire is Wire.OPENAI:
        _openai(body, model)
    elif wire is Wire.ANTHROPIC:
        _anthropic(body, model, headers.get("anthropic-beta", ""))
    elif wire is Wire.BEDROCK:
        _bedrock(body, model)


def _openai(body: Mapping[str, Any], model: str) -> None:
    family = reasoning_model(model)
    if family is None:
        return
    if "max_tokens" in body:
        raise BadRequest(
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            param="max_tokens",
            code="unsupported_parameter",
        )
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        raise BadRequest(
            f"Unsupported value: 'temperature' does not support {temperature} with this "
            "model. Only the default (1) value is supported.",
            param="temperature",
            code="unsupported_value",
        )
    for name in family.refused:
        if name in body:
            raise BadRequest(
                f"Unsupported parameter: '{name}' is not supported with this model.",
                param=name,
                code="unsupported_parameter",
            )
    if not family.system_role:
        for index, message in enumerate(body.get("messages") or ()):
            if message.get("role") in ("system", "developer"):
                where = f"messages[{index}].role"
                raise BadRequest(
                    f"Unsupported value: '{where}' does not support '{message['role']}' "
                    "with this model.",
                    param=where,
                    code="unsupported_value",
                )


def _anthropic(body: Mapping[str, Any], model: str, beta: str) -> None:
    known = anthropic_output_limit(model)
    max_tokens = body.get("max_tokens")
    if known is not None and isinstance(max_tokens, int):
        limit = known.limit(beta=known.beta is not None and known.beta in beta)
        if max_tokens > limit:
            raise BadRequest(
                f"max_tokens: {max_tokens} > {limit}, which is the maximum allowed number "
                f"of output tokens for {model}"
            )
    roles = [message.get("role") for message in body.get("messages") or ()]
    if roles and roles[0] != "user":
        raise BadRequest('messages: first message must use the "user" role')
    for earlier, later in itertools.pairwise(roles):
        if earlier == later:
            raise BadRequest(
                'messages: roles must alternate between "user" and "assistant", but found '
                f'multiple "{later}" roles in a row'
            )


def _bedrock(body: Mapping[str, Any], model: str) -> None:
    roles = [message.get("role") for message in body.get("messages") or ()]
    if roles and roles[0] != "user":
        raise BadRequest(
            "A conversation must start with a user message. Try again with a conversation "
            "that starts with a user message."
        )
    if any(earlier == later for earlier, later in itertools.pairwise(roles)):
        raise BadRequest(
            "A conversation must alternate between user and assistant roles. Make sure the "
            "conversation alternates between user and assistant roles and try again."
        )
    known = anthropic_output_limit(model)
    config = body.get("inferenceConfig") or {}
    max_tokens = config.get("maxTokens") if isinstance(config, dict) else None
    if known is not None and isinstance(max_tokens, int):
        limit = known.limit(beta=False)
        if max_tokens > limit:
            raise BadRequest(
                f"The maximum tokens you requested exceeds the model limit of {limit}. "
                f"Try again with a maximum tokens value that is lower than {limit}."
            )


# The most choices one request may ask for, as documented: OpenAI's n (1-128), Gemini's
# candidateCount (1-8), Groq's n ("Currently only n=1 is supported").
_MOST_CHOICES = {Wire.OPENAI: 128, Wire.GOOGLE: 8}
_GROQ_PATH = "/openai/"


def check_choices(wire: Wire, inbound: Inbound, model: ModelSettings, path: str) -> None:
    """Refuse more choices than the model (or Groq, or the wire) takes, in the API's words.

    Raises:
        BadRequest: the API's 400 naming ``n`` or ``candidateCount``.
    """
    if inbound.n <= 1:
        return
    most = model.max_n or _MOST_CHOICES.get(wire, 1)
    if wire is Wire.OPENAI and path.startswith(_GROQ_PATH):
        most = 1
    if inbound.n <= most:
        return
    if wire is Wire.GOOGLE:
        raise BadRequest(f"candidateCount must be at most {most} for model {inbound.model}")
    raise BadRequest(
        f"'n' : number must be at most {most}", param="n", code="unsupported_parameter"
    )
