"""What one run of an architecture hands its components: each component's `CallContext`,
the seeds of its random choices, and its side of the call path (samples numbered for the
cache, the budget charged)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any

from ._config import ComponentSpec
from ._context import CallContext
from ._exceptions import ProviderError
from ._layer import LayerPlan
from ._streaming import RunOptions
from ._trace import ComponentTrace
from ._types import CallRecord, ChatRequest, ChatResponse, Message
from .callpath import Budget, CallPath


class RunContexts:
    """Builds the `CallContext` of each component of a run (`run_layer`'s context factory,
    for every layer of the run): one object, not a closure with a cell per variable it
    reads; the request shapes come from the engine's plan."""

    __slots__ = ("_completer", "_conversation", "_key", "_options", "_plan", "_scorers")

    def __init__(
        self,
        conversation: Sequence[Message],
        key: RunKey,
        plan: Sequence[LayerPlan],
        options: RunOptions,
        completer: RunCalls,
        scorers: Mapping[str, Any],
    ) -> None:
        self._conversation = conversation
        self._key = key
        self._plan = plan
        self._options = options
        self._completer = completer
        self._scorers = scorers

    def __call__(
        self, layer: int, spec: ComponentSpec, position: int, trace: ComponentTrace
    ) -> CallContext:
        run_spec = self._options.spec(layer, spec)
        return CallContext(
            spec=run_spec,
            conversation=self._conversation,
            completer=self._completer,
            trace=trace,
            seed=functools.partial(self._key.component, layer, position),
            scorers=self._scorers,
            # A spec this run overrides (the answer layer's temperature) gets its own.
            shape=self._plan[layer].shapes[position] if run_spec is spec else None,
        )


class RunKey:
    """What a run's random choices are seeded with: the seed and the conversation's digest,
    hashed when first asked for (most runs draw nothing: one candidate left, no component
    that draws)."""

    __slots__ = ("_conversation", "_text", "seed")

    def __init__(self, seed: int, conversation: Sequence[Message]) -> None:
        self.seed = seed
        self._conversation = conversation
        self._text: str | None = None

    def text(self) -> str:
        """``seed:digest``: the same prompt and seed always choose alike, while the prompts
        of a batch do not all pick the same position."""
        if self._text is None:
            self._text = f"{self.seed}:{_digest(self._conversation)}"
        return self._text

    def component(self, layer: int, position: int) -> str:
        """The seed of the component at ``position`` of ``layer``."""
        return f"{self.text()}:{layer}:{position}"


class RunCalls:
    """One run's side of the call path: numbers its identical requests as samples 0, 1, ...
    of its ``draw`` (for the cache) and charges the engine's budget."""

    __slots__ = ("_budget", "_callpath", "_draw", "_samples")

    def __init__(self, callpath: CallPath, budget: Budget | None, draw: int = 0) -> None:
        self._callpath = callpath
        self._budget = budget
        self._draw = draw
        self._samples: dict[bytes, int] = {}

    def complete(
        self, request: ChatRequest
    ) -> Coroutine[Any, Any, tuple[ChatResponse, CallRecord]]:
        """The call, the next sample of its request in this run (`CallContext` awaits it
        and calls `charge` as it ends)."""
        return self._callpath.complete(request, counter=self._samples, draw=self._draw)

    def charge(self, record: CallRecord) -> None:
        """Charge the engine's budget for a call made (a cache hit as a hit)."""
        if self._budget is not None:
            self._budget.charge_all((record,))

    async def complete_samples(
        self, request: ChatRequest, count: int
    ) -> list[tuple[ChatResponse, CallRecord] | ProviderError]:
        outcomes = await self._callpath.complete_samples(
            request, count, counter=self._samples, draw=self._draw
        )
        if self._budget is not None:
            # Requests refused for asking n samples were sent too (`Drawn.refused`).
            for refused in getattr(outcomes, "refused", ()):
                self._budget.charge(refused)
            charged: set[int] = set()
            for outcome in outcomes:
                if not isinstance(outcome, ProviderError):
                    self._budget.charge_all((outcome[1],))
                elif outcome.call_record is not None and id(outcome) not in charged:
                    charged.add(id(outcome))  # a request's error is shared by its samples
                    self._budget.charge(outcome.call_record)
        return outcomes


def _digest(conversation: Sequence[Message]) -> str:
    """A short, stable fingerprint of a conversation (the same in every process)."""
    # role NUL content NUL for each message, hashed in one update (the same digest); from a
    # list, which join builds from a generator anyway, at a cost.
    text = "".join([f"{message['role']}\0{message['content']}\0" for message in conversation])
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
