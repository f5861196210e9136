"""Value types shared by the engine, the providers and the components."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypedDict

from ._exceptions import InvalidInputError, ProviderError
from ._frozen import quick_init
from ._redact import redacted_url

__all__ = [
    "CallRecord",
    "ChatRequest",
    "ChatResponse",
    "FailedChoice",
    "Message",
    "NormalizedMessages",
    "Usage",
    "normalize_messages",
]

Role = Literal["system", "user", "assistant"]


class Message(TypedDict):
    """One chat message, in the OpenAI role/content shape."""

    role: str
    content: str


@quick_init
@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What a component asks of a model: one chat completion.

    Attributes:
        model: the provider's model name.
        model_type: the config's provider name (``"Together_API"``, ``"OpenAI_API"``, ...).
        messages: the conversation, system message first if any.
        temperature: sampling temperature, or None for the provider default.
        max_tokens: the completion budget, or None for the provider default.
        base_url: a base URL from the component config, overriding the provider's.
        extra: provider-specific request fields (the config's ``extra_body``), merged into
            the wire body as they are, over the fields built from the other attributes.
        top_p: nucleus sampling, or None for the provider default.
        stop: sequences that end the completion (empty: none).
        n: how many samples this one request draws (OpenAI's ``n``, Gemini's
            ``candidateCount``); only sent to adapters whose ``max_samples_per_request``
            allows it (see `archon_async.callpath`).
    """

    model: str
    model_type: str
    messages: Sequence[Message]
    temperature: float | None = None
    max_tokens: int | None = None
    base_url: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    n: int = 1

    def __repr__(self) -> str:
        # The dataclass's repr, with a base URL's password (a gateway's Basic auth) kept
        # out: ``***`` (`redacted_url`).
        shown = ", ".join(
            f"{each.name}={getattr(self, each.name)!r}"
            if each.name != "base_url" or not self.base_url
            else f"base_url={redacted_url(self.base_url)!r}"
            for each in fields(self)
        )
        return f"ChatRequest({shown})"


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens counted by the provider for one call."""

    input_tokens: int = 0
    output_tokens: int = 0


@quick_init
@dataclass(frozen=True, slots=True)
class ChatResponse:
    """A parsed completion.

    Attributes:
        text: the reply's text (never empty: an empty reply is a MalformedResponseError).
        usage: tokens in and out.
        model: the model that answered, as the provider names it.
        finish_reason: why generation stopped, as the provider says it, if it does.
        headers: the response headers that matter to limits (x-ratelimit-*, retry-after).
        choices: for a request with ``n`` > 1, every sample in order, each with its share
            of the usage (``text`` and ``finish_reason`` above are the first one's, ``usage``
            the request's), fewer than ``n`` from a server that ignores it; empty otherwise.
    """

    text: str
    usage: Usage = Usage()
    model: str = ""
    finish_reason: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    choices: tuple[ChatResponse, ...] = ()


@dataclass(frozen=True, slots=True)
class FailedChoice(ChatResponse):
    """A choice of an ``n`` > 1 reply that came without text while others have some (OpenAI
    and Gemini give each choice its own finish reason: a filter can block one sample of
    five), in the reply's ``choices``: ``text`` is empty and ``error`` is what a request
    for that sample alone would have raised. The call path makes it that sample's error."""

    error: ProviderError = field(kw_only=True)


@quick_init
@dataclass(frozen=True, slots=True)
class CallRecord:
    """One provider call as the trace keeps it.

    Attributes:
        model: the model asked.
        provider: the model_type.
        latency_s: the last attempt's latency.
        input_tokens: prompt tokens counted by the provider (0 for a failed call).
        output_tokens: completion tokens counted by the provider (0 for a failed call).
        retries: attempts made after the first.
        key_id: the fingerprint of the key of the last attempt, if any.
        error: for a call that failed, the error's type and message; None otherwise.
        cached: answered from the response cache: no request was sent (costs nothing).
        wait_s: seconds the call waited for a key and the rate limits before its attempts
            (a slow call with a large ``wait_s`` was held by a limit, not by the provider).
        finish_reason: why the provider ended the reply (``stop``, ``length``, ...), if
            it said; a reply cut at ``max_tokens`` says ``length`` or ``max_tokens``.
        timeouts: attempts of the call that timed out (each one was resent or failed it).
        batched: drawn by the request of an earlier sample (``n`` > 1): it holds its share
            of that request's tokens, and sent no request of its own.
        saved_input_tokens, saved_output_tokens: for a ``cached`` call, the tokens its
            reply cost when it was drawn (what sending it again would cost); else 0.
    """

    model: str
    provider: str
    latency_s: float
    input_tokens: int
    output_tokens: int
    retries: int
    key_id: str | None = None
    error: str | None = None
    cached: bool = False
    wait_s: float = 0.0
    finish_reason: str | None = None
    timeouts: int = 0
    batched: bool = False
    saved_input_tokens: int = 0
    saved_output_tokens: int = 0


DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."


_SEQUENCES = (list, tuple)


class NormalizedMessages(list[Message]):
    """A message list `normalize_messages` checked and built (a plain list otherwise).

    Not to be changed afterwards: `normalize_messages` does not check it again.
    """

    __slots__ = ()


def normalize_messages(messages: str | Sequence[Mapping[str, Any]]) -> list[Message]:
    """Turn a prompt string or an OpenAI-style chat list into a validated message list.

    A string becomes one user message. A list is checked: every item needs a ``role``
    (system, user or assistant) and a ``content``, a string or OpenAI's list of text parts
    (``[{"type": "text", "text": ...}]``, joined by blank lines), and the last message must
    be the user's. A system message is added in front when there is none, as Archon does.

    A list this function returned is returned as it is, not checked again: a batch's
    prompts are checked as their file is read, and their runs do not check them twice
    (~12 k instructions a prompt, bench/RESULTS.md, "Measure 3, tenth pass").

    Raises:
        InvalidInputError: the messages are empty or malformed; the message names the item.
    """
    if type(messages) is NormalizedMessages:
        return messages
    if isinstance(messages, str):
        if not messages.strip():
            raise InvalidInputError("the prompt is empty: give a non-empty question")
        _check_encodable(messages, "the prompt")
        return NormalizedMessages(
            (
                {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
                {"role": "user", "content": messages},
            )
        )
    # Exact types first: an abstract class's isinstance costs more, on every prompt.
    if not (type(messages) in _SEQUENCES or isinstance(messages, Sequence)) or not messages:
        raise InvalidInputError(
            "messages must be a non-empty string or a list of role/content dicts"
        )
    result = NormalizedMessages()
    for index, item in enumerate(messages):
        if not (type(item) is dict or isinstance(item, Mapping)):
            raise InvalidInputError(f"messages[{index}] is {type(item).__name__}, not a dict")
        role, content = item.get("role"), item.get("content")
        if role not in ("system", "user", "assistant"):
            raise InvalidInputError(
                f"messages[{index}].role is {role!r}: use 'system', 'user' or 'assistant'"
            )
        text = _text_content(content, index)
        _check_encodable(text, f"messages[{index}].content")
        result.append({"role": role, "content": text})
    if result[-1]["role"] != "user":
        raise InvalidInputError("the last message must be the user's: it is what gets answered")
    if result[0]["role"] != "system":
        result.insert(0, {"role": "system", "content": DEFAULT_SYSTEM_PROMPT})
    return result


def _check_encodable(text: str, where: str) -> None:
    """Refuse a lone surrogate: no provider's JSON (UTF-8) can carry it.

    Lone surrogates come from text decoded with ``surrogateescape`` (command-line arguments
    and file names holding bytes that are not UTF-8) or from JSON with an unpaired ``\\ud83d``
    escape. They cannot be encoded, so the request could never be sent.
    """
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{where} holds a lone surrogate (U+{ord(text[exc.start]):04X}) at character "
            f"{exc.start}, which no provider accepts: the text was decoded wrongly (bytes "
            "that are not UTF-8); decode it as UTF-8, or replace it "
            "(text.encode('utf-8', 'replace').decode())"
        ) from None


def _text_content(content: Any, index: int) -> str:
    """A message's text: a string, or OpenAI's content parts when they are all text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content:
        texts = []
        for part, piece in enumerate(content):
            if not isinstance(piece, Mapping) or piece.get("type") != "text":
                kind = piece.get("type") if isinstance(piece, Mapping) else type(piece).__name__
                raise InvalidInputError(
                    f"messages[{index}].content[{part}] is a {kind!r} part: only text parts "
                    "are supported (the components read and write text)"
                )
            text = piece.get("text")
            if not isinstance(text, str):
                raise InvalidInputError(f"messages[{index}].content[{part}].text must be a string")
            texts.append(text)
        return "\n\n".join(texts)
    raise InvalidInputError(f"messages[{index}].content must be a string or a list of text parts")
