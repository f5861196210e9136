"""Stop sequences (the ``stop`` parameter): the answer ends before the first one written.

OpenAI's API reference: ``stop`` is a string or a list of up to 4 strings; the model stops
generating where one appears and the returned text does not contain it. An architecture's
answer is cut the same way after the fact, as a model would have stopped: at the stop
sequence that is complete first in the text (the smallest end; of two ending together, the
one starting first). A stream is cut identically, holding back a tail that could still
grow into a stop sequence, so no text past the stop is ever sent, even when the sequence
spans two pieces.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["StopScanner", "cut_at_stop"]


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    """Where ``text`` is cut: the start of the stop sequence that ends first, or None."""
    best: tuple[int, int] | None = None
    for stop in stops:
        start = text.find(stop)
        if start >= 0 and (best is None or (start + len(stop), start) < best):
            best = (start + len(stop), start)
    return None if best is None else best[1]


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """``text`` up to (not including) its first stop sequence; all of it when none appears."""
    cut = _first_stop(text, stops) if stops else None
    return text if cut is None else text[:cut]


class StopScanner:
    """Cuts one streamed answer at its first stop sequence, piece by piece.

    `feed` returns the text that can be sent now; `flush` the tail held back at the end.
    Joined, what they return equals `cut_at_stop` of the whole answer.
    """

    __slots__ = ("_held", "_stops", "stopped")

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(stops)
        self._held = ""
        #: True once a stop sequence was seen: nothing more is returned.
        self.stopped = False

    def feed(self, text: str) -> str:
        """The part of ``text`` (after what was held back) that is sure to be sent."""
        if self.stopped:
            return ""
        buffer = self._held + text
        cut = _first_stop(buffer, self._stops)
        if cut is not None:
            self.stopped, self._held = True, ""
            return buffer[:cut]
        held = self._partial_stop(buffer)
        self._held = buffer[len(buffer) - held :] if held else ""
        return buffer[: len(buffer) - held]

    def flush(self) -> str:
        """The held-back tail: the answer ended without completing a stop sequence."""
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _partial_stop(self, buffer: str) -> int:
        # The longest end of the buffer that begins a stop sequence: it may still complete.
        longest = min(len(buffer), max(len(stop) for stop in self._stops) - 1)
        for size in range(longest, 0, -1):
            tail = buffer[-size:]
            if any(stop.startswith(tail) for stop in self._stops):
                return size
        return 0
