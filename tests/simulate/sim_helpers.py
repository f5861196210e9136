"""Helpers shared by the simulated provider's tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from archon_async.simulate import SimulatedServer

Serve = Callable[..., Awaitable[SimulatedServer]]


def user(text: str) -> list[dict[str, str]]:
    """A one-message conversation."""
    return [{"role": "user", "content": text}]
