"""Helpers shared by the built-in components: message shapes, sampling, state access.

Private to the `components` package; plugin authors write against `archon_async.core`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from archon_async.core import (
    ArchonError,
    ChatResponse,
    ComponentContext,
    ComponentError,
    ComponentSpec,
    Message,
    State,
    get_logger,
    query_unit_tests,
)

__all__ = [
    "PARSE_RETRIES",
    "UNIT_TESTS_PHRASE",
    "Parsed",
    "aligned_critiques",
    "ask_parsed",
    "candidate_number",
    "complete_reply",
    "complete_text",
    "effective_conversation",
    "prompt_messages",
    "query_of",
    "record",
    "require_candidates",
    "sample_texts",
    "strip_unit_tests",
    "truncation_hint",
]

P = TypeVar("P")

log = get_logger(__name__)

#: How many times a component re-asks when a reply cannot be parsed (after the first try).
PARSE_RETRIES = 3

#: Archon appends the generated unit tests to the user's query with this phrase; it is a
#: data format (its benchmarks and configs depend on it), so it is kept verbatim.
UNIT_TESTS_PHRASE = "Your response should pass the following unit tests:"


def candidate_number(digits: str) -> int:
    """The number a reply's identifier spells (``"3"`` in ``[3]``), or 0, which names no
    candidate, for digits too long to be one: Python refuses to convert a string of
    thousands of digits, and a parser must not raise on a reply."""
    return int(digits) if len(digits) <= 9 else 0


def effective_conversation(conversation: Sequence[Message], state: State) -> list[Message]:
    """The conversation as Archon's components see it.

    Archon's unit test generator appends its tests to the last user message of the shared
    conversation (by mutation), so every component that runs after it, later in the same
    layer or in a later layer, reads a query that ends with the tests. We keep the
    conversation immutable and rebuild that query from the tests in the state
    (`archon_async.core.query_unit_tests`), in Archon's exact text format.
    """
    messages = list(conversation)
    tails = query_unit_tests(state)
    if not tails or not messages or messages[-1]["role"] != "user":
        return messages
    last = messages[-1]
    text = last["content"]
    for tests in tails:
        text += f" {UNIT_TESTS_PHRASE} \n- " + "\n- ".join(tests)
    messages[-1] = {"role": last["role"], "content": text}
    return messages


def strip_unit_tests(query: str) -> str:
    """The query without Archon's unit-test tail (everything from `UNIT_TESTS_PHRASE` on)."""
    return query.split(UNIT_TESTS_PHRASE)[0].strip()


def query_of(conversation: Sequence[Message]) -> str:
    """The text of the last message: the query being answered."""
    return conversation[-1]["content"] if conversation else ""


def prompt_messages(system: str, conversation: Sequence[Message], prompt: str) -> list[Message]:
    """Archon's shape for a component call: the component's system message, the earlier
    turns without their system message and without the query, then the task prompt."""
    earlier = [m for m in conversation[:-1] if m["role"] != "system"]
    return [{"role": "system", "content": system}, *earlier, {"role": "user", "content": prompt}]


def _sendable(spec: ComponentSpec, messages: Sequence[Message]) -> list[Message]:
    # no_system exists for models whose chat templates reject a system role.
    if spec.no_system:
        return [m for m in messages if m["role"] != "system"]
    return list(messages)


# How providers say a reply was cut at max_tokens: OpenAI and vLLM "length", Anthropic and
# Bedrock "max_tokens", Gemini "MAX_TOKENS" (compared in lower case).
_TRUNCATED = frozenset({"length", "max_tokens"})


def _cut(response: ChatResponse) -> bool:
    """Whether the provider says it cut the reply at max_tokens."""
    return (response.finish_reason or "").lower() in _TRUNCATED


async def complete_reply(
    ctx: ComponentContext, spec: ComponentSpec, messages: Sequence[Message]
) -> tuple[str, bool]:
    """One completion's text without leading and trailing whitespace (Archon strips every
    reply too), and whether it was cut at ``max_tokens``; honours ``no_system``.

    Raises:
        ProviderError: the call failed after the engine's retries.
    """
    response = await ctx.complete(_sendable(spec, messages))
    return response.text.strip(), _cut(response)


async def complete_text(
    ctx: ComponentContext, spec: ComponentSpec, messages: Sequence[Message]
) -> str:
    """One completion's text, stripped as Archon strips it; honours ``no_system``.

    Raises:
        ProviderError: the call failed after the engine's retries.
    """
    text, _ = await complete_reply(ctx, spec, messages)
    return text


def truncation_hint(spec: ComponentSpec) -> str:
    """What to do about a reply cut at max_tokens, naming the component's setting."""
    return (
        f"the reply was cut at max_tokens ({spec.max_tokens}): raise max_tokens of this "
        f"{spec.type} ({spec.model}) in the config"
    )


@dataclass(frozen=True, slots=True)
class Parsed(Generic[P]):
    """The outcome of `ask_parsed`.

    Attributes:
        value: the parsed value, or None when no reply parsed.
        raw: the last reply.
        truncated: the last reply was cut at max_tokens.
        attempts: the calls made.
    """

    value: P | None
    raw: str
    truncated: bool
    attempts: int


async def ask_parsed(
    ctx: ComponentContext,
    spec: ComponentSpec,
    messages: Sequence[Message],
    parse: Callable[[str], P | None],
    *,
    retry_event: str,
    **fields: Any,
) -> Parsed[P]:
    """Ask, and ask again up to `PARSE_RETRIES` times while the reply does not parse.

    Each retry is noted under ``retry_event`` (with ``fields`` and the failed reply). A
    reply cut at ``max_tokens`` that does not parse is not asked again: the same request
    would be cut at the same length.

    Raises:
        ProviderError: a call failed after the engine's retries.
    """
    raw, truncated, attempts = "", False, 0
    for attempt in range(1 + PARSE_RETRIES):
        if attempt:
            record(ctx, retry_event, attempt=attempt, **fields, raw=raw)
        raw, truncated = await complete_reply(ctx, spec, messages)
        attempts += 1
        value = parse(raw)
        if value is not None:
            return Parsed(value, raw, truncated, attempts)
        if truncated:
            break
    return Parsed(None, raw, truncated, attempts)


async def sample_texts(
    ctx: ComponentContext,
    spec: ComponentSpec,
    messages: Sequence[Message],
    count: int,
    *,
    event: str,
) -> list[str]:
    """``count`` completions of the same messages, all in flight together.

    Successes are kept in sample order. Failed samples are dropped and noted under
    ``event``, as Archon drops them; when every sample fails the first error is raised.
    Replies cut at ``max_tokens`` are kept (as Archon keeps them) and noted as
    ``replies_truncated`` with the setting to raise.

    Raises:
        ArchonError: every sample failed (the first sample's error).
    """
    # The engine's context draws the samples in as few requests as the provider allows
    # (OpenAI's n); a plugin's context that cannot, one call each.
    many = getattr(ctx, "complete_samples", None) if count > 1 else None
    replies: Sequence[ChatResponse | ArchonError]
    if many is not None:
        replies = await many(_sendable(spec, messages), count)
    elif count == 1:
        # One call, nothing to run beside it: its error is raised as it is, as below.
        replies = [await ctx.complete(_sendable(spec, messages))]
    else:
        replies = await ctx.map_settled(ctx.complete, [_sendable(spec, messages)] * count)
    texts: list[str] = []
    errors: list[ArchonError] = []
    truncated = 0
    for reply in replies:  # one pass: it runs for every sample of every run
        if isinstance(reply, ArchonError):
            errors.append(reply)
        else:
            texts.append(reply.text.strip())
            # _cut's test, inline: a call less for each sample of every run.
            finish = reply.finish_reason
            if finish and finish.lower() in _TRUNCATED:
                truncated += 1
    if truncated:
        record(ctx, "replies_truncated", truncated=truncated, hint=truncation_hint(spec))
    if not texts and errors:
        raise errors[0]
    if errors:
        record(
            ctx,
            event,
            failed=len(errors),
            requested=count,
            errors=[f"{type(e).__name__}: {e}" for e in errors],
        )
    return texts


def record(ctx: ComponentContext, event: str, **fields: Any) -> None:
    """Note an event in the trace and log it (without raw model output, which may be long
    and holds user content)."""
    ctx.note(event, **fields)
    log.info(event, **{key: value for key, value in fields.items() if key != "raw"})


def _string_list(state: State, key: str) -> list[str]:
    value: Any = state.get(key)
    if not value:
        return []
    return [str(item) for item in value]


def require_candidates(state: State, component: str) -> list[str]:
    """The previous layer's candidates.

    Raises:
        ComponentError: there are none (the component needs a layer that writes some before it).
    """
    candidates = _string_list(state, "candidates")
    if not candidates:
        raise ComponentError(
            f"the {component} received no candidates: put a layer that produces candidates "
            "(a generator, for example) before it"
        )
    return candidates


def aligned_critiques(ctx: ComponentContext, state: State, count: int) -> list[str] | None:
    """The previous layer's critiques when there is exactly one per candidate, else None.

    A non-empty list of another length cannot be matched to the candidates; that is noted.
    """
    critiques = _string_list(state, "critiques")
    if not critiques:
        return None
    if len(critiques) != count:
        record(ctx, "critiques_ignored", critiques=len(critiques), candidates=count)
        return None
    return critiques
