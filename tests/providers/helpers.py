"""Shared values for adapter tests."""

from __future__ import annotations

import anyio.lowlevel

from archon_async.core import ChatRequest, Message

# A key that must never show up in logs, reprs or errors.
SECRET = "sk-test-SECRET-0123456789abcdef"

MESSAGES: list[Message] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 2+2?"},
]


def chat_request(model_type: str, model: str = "m-1", **fields: object) -> ChatRequest:
    """A request with a system prompt, temperature and max_tokens."""
    options: dict[str, object] = {"temperature": 0.5, "max_tokens": 64, **fields}
    return ChatRequest(model=model, model_type=model_type, messages=MESSAGES, **options)  # type: ignore[arg-type]


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it (no real waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()
