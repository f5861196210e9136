"""The traces of recent requests, kept for their callers to fetch (``GET /v1/traces/{id}``)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["Payload", "TraceStore"]

#: Makes a trace's JSON document when it is asked for.
Payload = Callable[[], dict[str, Any]]


class TraceStore:
    """The latest ``size`` request traces, each readable by the caller that made it only.

    Args:
        size: how many traces are kept; the oldest go first.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[str, Payload]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, trace_id: str, caller: str, payload: Payload) -> None:
        """Keep a request's trace, a function making its JSON (the oldest go when full)."""
        if self.size <= 0:
            return
        self._items[trace_id] = (caller, payload)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def get(self, trace_id: str, caller: str) -> dict[str, Any] | None:
        """The trace, or None when it is unknown, forgotten, or another caller's."""
        found = self._items.get(trace_id)
        if found is None or found[0] != caller:
            return None
        return found[1]()
