"""The trace of one `generate()`: per layer, each component's outputs, calls and notes."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any

from ._frozen import quick_init
from ._types import CallRecord

__all__ = ["ComponentTrace", "FinalChoice", "LayerTrace", "Result", "Trace", "call_sink"]

#: When set, every call made in this context (and the tasks it starts) is appended here as
#: it ends: a batch prompt's bill, which must count the calls of a run cut short by Ctrl-C
#: or SIGTERM, whose trace is never returned.
call_sink: ContextVar[list[CallRecord] | None] = ContextVar("archon_call_sink", default=None)


@dataclass(slots=True)
class ComponentTrace:
    """What one component of a layer did."""

    index: int
    type: str
    model: str
    model_type: str
    outputs: dict[str, Any] = field(default_factory=dict)
    calls: list[CallRecord] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    elapsed_s: float = 0.0

    def record_call(self, record: CallRecord) -> None:
        """Keep a call (a failed one too), and hand it to the `call_sink` if one is set."""
        self.calls.append(record)
        sink = call_sink.get()
        if sink is not None:
            sink.append(record)

    def record_calls(self, records: list[CallRecord]) -> None:
        """`record_call` for several calls, in order."""
        self.calls.extend(records)
        sink = call_sink.get()
        if sink is not None:
            sink.extend(records)


@dataclass(slots=True)
class LayerTrace:
    """One layer: its components, in config order, and its wall time."""

    index: int
    components: list[ComponentTrace] = field(default_factory=list)
    elapsed_s: float = 0.0


@dataclass(frozen=True, slots=True)
class FinalChoice:
    """How the answer was picked when the last layer left several candidates."""

    candidates: int
    index: int
    seed: int
    rule: str = "seeded-random"


@dataclass(slots=True)
class Trace:
    """Everything a run did, with totals."""

    layers: list[LayerTrace] = field(default_factory=list)
    elapsed_s: float = 0.0
    final_choice: FinalChoice | None = None

    def calls(self) -> list[CallRecord]:
        """Every call of the run, layer by layer (those answered by the cache included,
        marked ``cached``)."""
        return [call for layer in self.layers for c in layer.components for call in c.calls]

    @property
    def call_count(self) -> int:
        """The number of provider calls made (cache hits are not calls)."""
        return sum(1 for call in self.calls() if not call.cached)

    @property
    def cache_hits(self) -> int:
        """The number of calls answered from the response cache (they cost nothing)."""
        return sum(1 for call in self.calls() if call.cached)

    @property
    def failed_calls(self) -> int:
        """The number of provider calls that failed after their retries (in `calls` too)."""
        return sum(1 for call in self.calls() if call.error is not None)

    @property
    def input_tokens(self) -> int:
        """Prompt tokens over all calls."""
        return sum(call.input_tokens for call in self.calls())

    @property
    def output_tokens(self) -> int:
        """Completion tokens over all calls."""
        return sum(call.output_tokens for call in self.calls())

    @property
    def retries(self) -> int:
        """Retries over all calls."""
        return sum(call.retries for call in self.calls())

    def totals(self) -> dict[str, Any]:
        """Calls (failed ones included, and counted apart), cache hits, tokens, retries and
        wall time."""
        return {
            "calls": self.call_count,
            "failed_calls": self.failed_calls,
            "cache_hits": self.cache_hits,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "retries": self.retries,
            "limit_wait_s": round(sum(call.wait_s for call in self.calls()), 3),
            "elapsed_s": self.elapsed_s,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy of the trace."""
        return {
            "layers": [asdict(layer) for layer in self.layers],
            "final_choice": asdict(self.final_choice) if self.final_choice else None,
            "totals": self.totals(),
        }


@quick_init
@dataclass(frozen=True, slots=True)
class Result:
    """The answer of `Engine.generate` and how it was reached.

    Attributes:
        text: the final answer.
        candidates: what the last layer left (the answer is one of them).
        trace: per layer, each component's outputs, calls and notes, with totals.
    """

    text: str
    candidates: tuple[str, ...]
    trace: Trace
