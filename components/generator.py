"""The generator: ``samples`` completions of the conversation, all in flight together.

Archon draws its samples one after another; here every sample is a concurrent call. A
failed sample is dropped (as Archon drops ``None`` outputs) and noted in the trace under
``generator_samples_failed``; when every sample fails the first error is raised.

Settings read: ``samples``, ``no_system`` (drop system messages from what is sent),
``temperature`` and ``max_tokens`` (applied by the context).
"""

from __future__ import annotations

from archon_async.core import ComponentContext, ComponentSpec, State, StateUpdate

from ._common import effective_conversation, sample_texts

__all__ = ["Generator"]


class Generator:
    """Writes ``candidates``: one per successful sample, in sample order.

    Args:
        spec: the component's configuration.
    """

    def __init__(self, spec: ComponentSpec) -> None:
        self.spec = spec

    async def run(self, ctx: ComponentContext, state: State) -> StateUpdate:
        """Sample the conversation ``samples`` times concurrently.

        Raises:
            ArchonError: every sample failed (the first sample's error).
        """
        # Unit tests from an earlier layer are part of the query, as in Archon.
        messages = effective_conversation(ctx.conversation, state)
        texts = await sample_texts(
            ctx, self.spec, messages, self.spec.samples, event="generator_samples_failed"
        )
        return {"candidates": texts}
