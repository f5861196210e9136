"""The fuser: merges the previous layer's candidates into one better answer.

One prompt lists the candidates (with their critiques when the previous layer left
exactly one per candidate) and asks for a single answer; ``samples`` such answers are
drawn concurrently. Messages follow Archon's shape: the fuser's system message, the
earlier turns of the conversation without the system message and without the query, then
the fuser prompt as the user's message.

Settings read: ``samples``, ``length_control`` (ask to stay as long as the candidates),
``no_system``, ``temperature``, ``max_tokens``. Archon's fuser configs also carry
``top_k_generations``, ``fuse_generations_count`` and ``ranker_config``, which Archon's
fuser never reads; they are accepted and ignored here too.

A fuser with no candidates (one published Archon config puts fusers in its first layer,
where Archon's fuser fails its input assertion) answers the conversation directly, like a
generator, and notes ``fuser_without_candidates`` in the trace.
"""

from __future__ import annotations

from archon_async.core import ComponentContext, ComponentSpec, State, StateUpdate

from ._common import (
    aligned_critiques,
    effective_conversation,
    prompt_messages,
    query_of,
    record,
    require_candidates,
    sample_texts,
)
from .prompts import FUSER_SYSTEM, fuser_prompt

__all__ = ["Fuser"]


class Fuser:
    """Writes ``candidates``: the fused answers, one per successful sample.

    Args:
        spec: the component's configuration.
    """

    def __init__(self, spec: ComponentSpec) -> None:
        self.spec = spec

    async def run(self, ctx: ComponentContext, state: State) -> StateUpdate:
        """Fuse the previous candidates.

        Raises:
            ComponentError: there are no candidates to fuse.
            ArchonError: every sample failed (the first sample's error).
        """
        if not state.get("candidates"):
            record(ctx, "fuser_without_candidates", reason="no candidates: answering directly")
            direct = effective_conversation(ctx.conversation, state)
            if self.spec.no_system:
                direct = [m for m in direct if m["role"] != "system"]
            texts = await sample_texts(
                ctx, self.spec, direct, self.spec.samples, event="fuser_samples_failed"
            )
            return {"candidates": texts}
        candidates = require_candidates(state, "fuser")
        critiques = aligned_critiques(ctx, state, len(candidates))
        conversation = effective_conversation(ctx.conversation, state)
        prompt = fuser_prompt(
            query_of(conversation),
            candidates,
            critiques,
            length_control=self.spec.length_control,
        )
        messages = prompt_messages(FUSER_SYSTEM, conversation, prompt)
        texts = await sample_texts(
            ctx, self.spec, messages, self.spec.samples, event="fuser_samples_failed"
        )
        return {"candidates": texts}
