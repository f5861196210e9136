"""The protocol of a scoring backend for reward-model rankers (``llm-blender/PairRM``).

A reward model is not a chat model: it scores candidates instead of writing text, so a
ranker whose model is a reward model asks the engine for a scorer (``ctx.scorer(model)``)
rather than for completions. Any object with this ``score`` coroutine fits, for example
`archon_async`'s HTTP scorer or an in-process model wrapped by the user.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = ["PairwiseScorer", "is_reward_model"]


@runtime_checkable
class PairwiseScorer(Protocol):
    """Scores candidate answers to one query; higher is better."""

    async def score(self, query: str, candidates: Sequence[str]) -> list[float]:
        """One score per candidate, in candidate order.

        Raises:
            ProviderError: the backend failed or answered something unusable.
        """
        ...


def is_reward_model(model: str) -> bool:
    """Whether a ranker's model names a reward model (PairRM) rather than a chat model."""
    return "pairrm" in model.lower()
