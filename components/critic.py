"""The critic: strengths and weaknesses of each of the previous layer's candidates.

One call lists every candidate and asks for one block per candidate, in the format of
`components.formats.render_critiques` (``[k]`` on its own line, then ``Strengths:`` and
``Weaknesses:`` lists). The reply is split at the identifiers ``[1]``, ``[2]``, ... taken
in sequence, so a critique that mentions another candidate (``[1] is shorter``) is not
cut there; headers such as ``**[2]**``, ``### [2]`` or ``Response 2:`` are accepted too.

When the reply does not give exactly one non-empty critique per candidate, the critic asks
again, up to `PARSE_RETRIES` more times (each retry noted as ``critic_parse_retry``). If no
reply can be split, it raises `OutputParseError` carrying the last raw reply, as Archon's
critic raises after its retries: a fallback that pinned one long unsplit text to every
candidate would mislead the ranker and fuser that read the critiques.

Writes ``critiques`` only, one per candidate in candidate order; the candidates pass on to
the next layer unchanged (Archon's critic writes only critiques too). ``samples`` is
ignored: a critique is one call, and Archon keeps only the first sample as well.
"""

from __future__ import annotations

import re

from archon_async.core import (
    ComponentContext,
    ComponentSpec,
    OutputParseError,
    State,
    StateUpdate,
)

from ._common import (
    PARSE_RETRIES,
    complete_text,
    effective_conversation,
    prompt_messages,
    query_of,
    record,
    require_candidates,
)
from .prompts import CRITIC_SYSTEM, critic_prompt

__all__ = ["Critic", "parse_critiques"]

# A candidate header at the start of a line: "[2]", "**[2]**", "### [2]", "Response 2:".
_LINE_HEADER = re.compile(
    r"^[ \t>#*_]*(?:\[\s*(\d+)\s*\]|(?:response|candidate)\s*#?\s*(\d+)\b)[*_]*[ \t]*[:.)-]?",
    re.I | re.M,
)
_INLINE_HEADER = re.compile(r"\[\s*(\d+)\s*\]")


def _split(reply: str, pattern: re.Pattern[str], count: int) -> list[str] | None:
    """Split at headers 1..count taken in sequence; None unless all are found."""
    cuts: list[tuple[int, int]] = []
    for match in pattern.finditer(reply):
        number = int(next(group for group in match.groups() if group is not None))
        if number == len(cuts) + 1:
            cuts.append((match.start(), match.end()))
            if len(cuts) == count:
                break
    if len(cuts) != count:
        return None
    ends = [start for start, _ in cuts[1:]] + [len(reply)]
    sections = [reply[body:end] for (_, body), end in zip(cuts, ends, strict=True)]
    critiques = [section.strip().strip("-").strip() for section in sections]
    return critiques if all(critiques) else None


def parse_critiques(reply: str, count: int) -> list[str] | None:
    """One critique per candidate from a critic reply, or None when it cannot be split.

    Headers at the start of a line are tried first, then ``[k]`` anywhere (for replies
    that put everything on one line).
    """
    return _split(reply, _LINE_HEADER, count) or _split(reply, _INLINE_HEADER, count)


class Critic:
    """Writes ``critiques``: one per candidate, in candidate order.

    Args:
        spec: the component's configuration.
    """

    def __init__(self, spec: ComponentSpec) -> None:
        self.spec = spec

    async def run(self, ctx: ComponentContext, state: State) -> StateUpdate:
        """Critique the previous candidates.

        Raises:
            ComponentError: there are no candidates.
            OutputParseError: no reply gave one critique per candidate after the retries.
            ProviderError: a call failed.
        """
        candidates = require_candidates(state, "critic")
        conversation = effective_conversation(ctx.conversation, state)
        prompt = critic_prompt(query_of(conversation), candidates)
        messages = prompt_messages(CRITIC_SYSTEM, conversation, prompt)
        reply = ""
        for attempt in range(1 + PARSE_RETRIES):
            if attempt:
                record(ctx, "critic_parse_retry", attempt=attempt, raw=reply)
            reply = await complete_text(ctx, self.spec, messages)
            critiques = parse_critiques(reply, len(candidates))
            if critiques is not None:
                return {"critiques": critiques}
        raise OutputParseError(
            f"the critic's replies did not give one critique for each of the "
            f"{len(candidates)} candidates in {1 + PARSE_RETRIES} attempts",
            raw_output=reply,
        )
