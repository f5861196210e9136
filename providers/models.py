"""What the providers document about their models, so that requests are ones they accept.

Two facts matter to the requests Archon's configurations make:

* **Anthropic output limits.** The messages API refuses a ``max_tokens`` above the model's
  output limit with a 400 ("max_tokens: 200000 > 8192, which is the maximum allowed number
  of output tokens for claude-3-5-sonnet-20240620"); Bedrock's Converse API refuses the
  same for Claude models ("The maximum tokens you requested exceeds the model limit").
* **OpenAI reasoning models** (the o-series and the gpt-5 family) take
  ``max_completion_tokens`` instead of ``max_tokens`` and refuse a ``temperature`` other
  than the default 1, as well as ``top_p`` and ``stop``; o1-mini and o1-preview also refuse
  a system message.

Both the adapters (to send what a model accepts) and the simulated provider (to refuse what
the real API refuses) read them from here.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from archon_async.core import get_logger

__all__ = [
    "ANTHROPIC_OUTPUT_LIMITS",
    "REASONING_BUDGET_ADVICE",
    "AnthropicLimit",
    "ReasoningModel",
    "anthropic_output_limit",
    "claude_model_id",
    "learn_output_limit",
    "reasoning_model",
    "refused_output_limit",
]


@dataclass(frozen=True, slots=True)
class AnthropicLimit:
    """A Claude model's output limit.

    Attributes:
        max_tokens: the largest ``max_tokens`` the API accepts (with ``beta`` sent, if any).
        beta: an ``anthropic-beta`` header value that raises the limit to ``max_tokens``;
            without it the limit is ``without_beta``.
        without_beta: the limit when the beta header is not sent.
    """

    max_tokens: int
    beta: str | None = None
    without_beta: int | None = None

    def limit(self, *, beta: bool) -> int:
        """The limit in force with (or without) the beta header."""
        if beta or self.without_beta is None:
            return self.max_tokens
        return self.without_beta


#: Output limits of the Claude models, by model id without its date (a dated id, the
#: ``-latest`` and ``-0`` aliases, a Bedrock id or a Vertex id maps onto these). Source:
#: Anthropic's "Models overview" and its legacy-models table
#: (https://platform.claude.com/docs/en/about-claude/models/overview, read 2026-11); the
#: 8192 of claude-3-5-sonnet-20240620 needs the beta header
#: ``max-tokens-3-5-sonnet-2024-07-15`` (4096 without it), as that page said at the
#: model's release. A model missing here is sent the configured value unchanged.
ANTHROPIC_OUTPUT_LIMITS: dict[str, AnthropicLimit] = {
    "claude-3-haiku": AnthropicLimit(4096),
    "claude-3-sonnet": AnthropicLimit(4096),
    "claude-3-opus": AnthropicLimit(4096),
    "claude-3-5-haiku": AnthropicLimit(8192),
    "claude-3-5-sonnet-20240620": AnthropicLimit(
        8192, beta="max-tokens-3-5-sonnet-2024-07-15", without_beta=4096
    ),
    "claude-3-5-sonnet": AnthropicLimit(8192),
    "claude-3-7-sonnet": AnthropicLimit(64000),
    "claude-sonnet-4": AnthropicLimit(64000),
    "claude-opus-4": AnthropicLimit(32000),
    "claude-opus-4-1": AnthropicLimit(32000),
    "claude-sonnet-4-5": AnthropicLimit(64000),
    "claude-haiku-4-5": AnthropicLimit(64000),
    "claude-opus-4-5": AnthropicLimit(64000),
    "claude-opus-4-6": AnthropicLimit(128000),
    "claude-sonnet-4-6": AnthropicLimit(128000),
}

log = get_logger(__name__)

# Bedrock ids: an optional geography of a cross-region profile, "anthropic.", the id, and
# a "-v1:0" version; Vertex ids end in "@20250514".
_BEDROCK_ID = re.compile(r"^(?:[a-z]{2,6}\.)?anthropic\.(?P<id>.+?)(?:-v\d+(?::\d+)?)?$")
_ALIAS_TAIL = re.compile(r"(?:-\d{8}|@\d{8}|-latest|-0)$")


def claude_model_id(model: str) -> str:
    """The Anthropic API id of a Claude model named the Bedrock, Vertex or litellm way.

    ``bedrock/us.anthropic.claude-3-5-sonnet-20241022-v2:0`` ->
    ``claude-3-5-sonnet-20241022``; other names are returned lower-cased.
    """
    name = model.strip().lower().removeprefix("bedrock/").removeprefix("anthropic/")
    match = _BEDROCK_ID.match(name)
    return match.group("id") if match else name


def anthropic_output_limit(model: str) -> AnthropicLimit | None:
    """The documented output limit of a Claude model (any naming), or None if unknown."""
    name = claude_model_id(model).replace("@", "-")
    if name in ANTHROPIC_OUTPUT_LIMITS:
        return ANTHROPIC_OUTPUT_LIMITS[name]
    return ANTHROPIC_OUTPUT_LIMITS.get(_ALIAS_TAIL.sub("", name))


# The 400s that state the limit: Anthropic's "max_tokens: 200000 > 8192, which is the
# maximum allowed number of output tokens for ..." and Bedrock's "The maximum tokens you
# requested exceeds the model limit of 8192".
_REFUSED_LIMIT = re.compile(
    r"max_tokens: \d+ > (\d+), which is the maximum allowed"
    r"|maximum tokens you requested exceeds the model limit of (\d+)"
)


def refused_output_limit(message: str) -> int | None:
    """The output limit a provider's 400 states, for a model the table does not know yet."""
    match = _REFUSED_LIMIT.search(message)
    if match is None:
        return None
    return int(match.group(1) or match.group(2))


def learn_output_limit(learned: dict[str, int], model: str, sent: int, error: Exception) -> bool:
    """Record in ``learned`` the output limit a refusal states, when it is below ``sent``.

    Args:
        learned: the limits learned so far, by model (updated).
        model: the model the refused request asked for.
        sent: the ``max_tokens`` that request carried.
        error: the refusal.

    Returns:
        Whether the request is worth sending again, lowered to ``learned[model]``. Calls
        refused together (the samples of a layer) all return True, and log once.
    """
    limit = refused_output_limit(str(error))
    if limit is None or limit >= sent:
        return False
    if learned.get(model, limit + 1) > limit:
        learned[model] = limit
        log.warning("max_tokens_lowered", model=model, sent=sent, limit=limit)
    return True


@dataclass(frozen=True, slots=True)
class ReasoningModel:
    """What an OpenAI reasoning model accepts on ``/chat/completions``.

    Attributes:
        family: the family's name (``o1-mini``, ``o3``, ``gpt-5``...).
        system_role: whether it takes a system message (o1-mini and o1-preview do not).
    """

    family: str
    system_role: bool = True

    #: Sampling parameters these models refuse (``temperature`` is refused unless it is 1).
    refused = ("top_p", "stop", "presence_penalty", "frequency_penalty", "logprobs")


#: The completion budget OpenAI advises reserving for a reasoning model's hidden reasoning
#: and its answer when starting out (reasoning guide, "Allocating space for reasoning").
REASONING_BUDGET_ADVICE = 25_000

# o1, o1-mini, o3-mini-2025-01-31, o4-mini... and the gpt-5 family (gpt-5, gpt-5-mini,
# gpt-5.1, gpt-5.2-chat-latest...), after any gateway prefix ("openai/o3-mini").
_REASONING = re.compile(r"^(?P<family>o\d+(?:-mini|-preview|-pro)?|gpt-5(?:\.\d+)?)(?:[-.].*)?$")
_NO_SYSTEM_ROLE = ("o1-mini", "o1-preview")


@functools.lru_cache(maxsize=1024)  # asked for every request; a run uses a few models
def reasoning_model(model: str) -> ReasoningModel | None:
    """The reasoning family of an OpenAI model name, or None for other models.

    Source: OpenAI's reasoning guide (https://platform.openai.com/docs/guides/reasoning)
    and the API's own 400s ("Unsupported parameter: 'max_tokens' is not supported with this
    model. Use 'max_completion_tokens' instead."; "Unsupported value: 'temperature' does
    not support 0.7 with this model. Only the default (1) value is supported."; "Unsupported
    value: 'messages[0].role' does not support 'system' with this model." for o1-mini and
    o1-preview).
    """
    name = model.strip().lower().rsplit("/", 1)[-1]
    match = _REASONING.match(name)
    if match is None:
        return None
    family = match.group("family")
    return ReasoningModel(family, system_role=family not in _NO_SYSTEM_ROLE)
