"""Helpers shared by the simulated provider's tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from archon_async.simulate import SimulatedServer

Serve = Callable[..., Awaitable[SimulatedServer]]


def user(text: str) -> list[Any]:
    """A one-message conversation (typed loosely, to fit every SDK's message type)."""
    return [{"role": "user", "content": text}]
