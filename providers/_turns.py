"""Conversations in the shapes strict APIs accept.

OpenAI takes any order of roles. Anthropic's messages API and Bedrock's Converse API do not:
turns must alternate user/assistant and the first must be the user's (Bedrock: "A
conversation must start with a user message", "A conversation must alternate between user
and assistant roles"); OpenAI's o1-mini and o1-preview take no system message. Archon's
components can produce both shapes (two user turns in a row when the conversation given
had them; an assistant greeting before the first question of a chat), so the adapters of
those APIs reshape the conversation here, before any call, losing no text.
"""

from __future__ import annotations

from collections.abc import Sequence

from archon_async.core import Message

__all__ = ["OPENING_NOTE", "alternating_turns", "system_into_user"]

_JOIN = "\n\n"
#: Put before a leading assistant turn's text when it moves into the system prompt.
OPENING_NOTE = "The conversation began with this message from you, the assistant:"


def alternating_turns(messages: Sequence[Message]) -> tuple[str, list[Message]]:
    """The system text and user/assistant turns that alternate and open with the user.

    System messages are joined by blank lines. Consecutive turns of one role are merged into
    one turn (their texts joined by a blank line).
    Assistant turns before the first user turn move into the system text, after
    `OPENING_NOTE`, since these APIs refuse a conversation that opens with the assistant.
    """
    system = [m["content"] for m in messages if m["role"] == "system"]
    turns: list[Message] = []
    for message in messages:
        role = message["role"]
        if role == "system":
            continue
        if not turns and role == "assistant":
            system.append(f"{OPENING_NOTE}{_JOIN}{message['content']}")
        elif turns and turns[-1]["role"] == role:
            turns[-1] = {"role": role, "content": turns[-1]["content"] + _JOIN + message["content"]}
        else:
            turns.append({"role": role, "content": message["content"]})
    return _JOIN.join(system), turns


def system_into_user(messages: Sequence[Message]) -> list[Message]:
    """The conversation without system messages: their text opens the first user turn."""
    system = [m["content"] for m in messages if m["role"] == "system"]
    rest = [m for m in messages if m["role"] != "system"]
    if not system:
        return list(rest)
    result: list[Message] = []
    pending = _JOIN.join(system)
    for message in rest:
        if pending and message["role"] == "user":
            message = {"role": "user", "content": pending + _JOIN + message["content"]}
            pending = ""
        result.append(message)
    return result
