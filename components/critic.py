"""The critic: strengths and weaknesses of each of the previous layer's candidates.

One call lists every candidate and asks for one block per candidate, in the format of
`components.formats.render_critiques` (``[k]`` on its own line, then ``Strengths:`` and
``Weaknesses:`` lists). The reply is split at its headers. A header starts a line and
holds only the identifier, with markdown decoration and an optional word before it
(``**[2]**``, ``### [2]``, ``Response 2:``, ``Critique of [2]:``, ``Candidate #2``) and
only punctuation or a short parenthesis after it, then the end of the line or, after the
punctuation, the critique itself (``Response 2: Strengths: ...``). A line that goes on in
prose (``Response 2 is better...``, ``[2] is shorter``) is part of the critique it is in.
The headers must start with exactly ``1, 2, ..., n`` for ``n`` candidates, in order: a
missing, repeated or out-of-order header is a count mismatch. Blocks after the n-th (a
fourth critique for three candidates) are left out, and the n critiques that line up are
kept (noted as ``critic_extra_blocks``). A reply with no header at the start of any line
(everything on one line) is split at its ``[k]`` identifiers taken in sequence, where an
identifier beyond ``n`` is a mismatch and one glued to a word (``nums[2]``) is not an
identifier. A critique that still holds the prompt's example placeholders (``<a
strength>``) is a copy of the example, not a critique.

When the reply does not give one non-empty critique per candidate, the critic asks again,
up to `PARSE_RETRIES` more times (each retry noted as ``critic_parse_retry``), except a
reply cut at ``max_tokens``, which would be cut again. If no reply can be split, the layer
goes on without critiques rather than failing the run: the critic writes an empty
``critiques`` list and notes ``critic_unparsable`` (with the last reply, whether it was cut
at ``max_tokens`` and what to raise). Rankers and fusers then work from the candidates
alone; pinning one unsplit text to every candidate would mislead them.

Writes ``critiques`` only, one per candidate in candidate order; the candidates pass on to
the next layer unchanged (Archon's critic writes only critiques too). ``samples`` is
ignored: a critique is one call, and Archon keeps only the first sample as well.
"""

from __future__ import annotations

import re

from archon_async.core import ComponentContext, ComponentSpec, State, StateUpdate

from ._common import (
    ask_parsed,
    candidate_number,
    effective_conversation,
    prompt_messages,
    query_of,
    record,
    require_candidates,
    truncation_hint,
)
from .prompts import CRITIC_PLACEHOLDERS, CRITIC_SYSTEM, critic_prompt

__all__ = ["Critic", "parse_critiques"]

# Words that may come before an identifier in a header: "Critique of", "Response",
# "Critique of Response", "Feedback on Candidate". Whitespace is matched only after a word
# or inside brackets: two optional runs side by side, or a run that may start anywhere,
# backtrack quadratically on a long run of blanks.
_NOUN = r"(?:response|candidate|answer)"
_NAMED = (
    r"(?:(?:critique|assessment|evaluation|review|analysis|feedback)(?:\s+(?:of|for|on))?"
    rf"(?:\s*{_NOUN})?|{_NOUN})"
)
# A header line: decoration, then "[2]" (words optional) or "Response 2" (a word needed, so
# that a numbered list inside a critique is not a header), then only decoration, a short
# parenthesis and punctuation. Whatever follows the punctuation is the critique's text.
_LINE_HEADER = re.compile(
    rf"^[ \t>#*_]*(?:(?:{_NAMED}[ \t]*)?\[[ \t]*(\d+)[ \t]*\]"
    rf"|{_NAMED}[ \t]*(?:#[ \t]*)?(?:\([ \t]*)?(\d+)(?:[ \t]*\))?)"
    r"[*_ \t]*(?:\([^()\n]{0,40}\)[*_ \t]*)?(?:$|[:.)\-\u2013\u2014][*_]*)",
    re.I | re.M,
)
# An identifier anywhere, with the words and decoration around it, unless glued to a word.
# The match starts where a decoration run starts, not inside it: a long run of "*" would
# otherwise be rescanned from every position.
_INLINE_HEADER = re.compile(
    rf"(?<![\w\]*_#])[*_#]*(?:{_NAMED}\s*)?\[\s*(\d+)\s*\][*_]*[ \t]*[:.\-\u2013\u2014]?[*_]*",
    re.I,
)


def _number(match: re.Match[str]) -> int:
    return candidate_number(next(group for group in match.groups() if group is not None))


def _sections(reply: str, cuts: list[re.Match[str]], end: int | None = None) -> list[str] | None:
    """The text after each header up to the next one (the last up to ``end``); None if
    any is empty or is the prompt's example."""
    ends = [match.start() for match in cuts[1:]] + [len(reply) if end is None else end]
    sections = [reply[match.end() : stop] for match, stop in zip(cuts, ends, strict=True)]
    critiques = [section.strip().strip("-").strip() for section in sections]
    copied = any(mark in text for text in critiques for mark in CRITIC_PLACEHOLDERS)
    return critiques if all(critiques) and not copied else None


def _split_inline(reply: str, count: int) -> list[str] | None:
    """Split at identifiers 1..count taken in sequence; None unless all are found or when
    an identifier beyond ``count`` appears."""
    cuts: list[re.Match[str]] = []
    for match in _INLINE_HEADER.finditer(reply):
        number = _number(match)
        if number > count:
            return None
        if number == len(cuts) + 1:
            cuts.append(match)
    if len(cuts) != count:
        return None
    return _sections(reply, cuts)


def parse_critiques(reply: str, count: int) -> list[str] | None:
    """One critique per candidate from a critic reply, or None when it cannot be split.

    Headers at the start of a line decide, and must be exactly ``1..count`` in order. When
    they are only the first few of those (none, or ``[1]`` starting a reply written on one
    line), the reply is split at ``[k]`` anywhere instead.
    """
    return _parse(reply, count)[0]


def _parse(reply: str, count: int) -> tuple[list[str] | None, int]:
    """`parse_critiques`, and how many extra header blocks were left out."""
    headers = list(_LINE_HEADER.finditer(reply))
    numbers = [_number(match) for match in headers]
    wanted = list(range(1, count + 1))
    if numbers == wanted:
        return _sections(reply, headers), 0
    if numbers[:count] == wanted:
        # A block too many: the n critiques that line up, the n-th ending at the extra one.
        extra = len(numbers) - count
        return _sections(reply, headers[:count], headers[count].start()), extra
    if numbers == list(range(1, len(numbers) + 1)) and len(numbers) < count:
        return _split_inline(reply, count), 0
    return None, 0


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
            ProviderError: a call failed.
        """
        candidates = require_candidates(state, "critic")
        conversation = effective_conversation(ctx.conversation, state)
        prompt = critic_prompt(query_of(conversation), candidates)
        messages = prompt_messages(CRITIC_SYSTEM, conversation, prompt)
        extra = 0

        def parse(reply: str) -> list[str] | None:
            nonlocal extra
            critiques, extra = _parse(reply, len(candidates))
            return critiques

        parsed = await ask_parsed(ctx, self.spec, messages, parse, retry_event="critic_parse_retry")
        if parsed.value is None:
            reason = (
                truncation_hint(self.spec)
                if parsed.truncated
                else f"no reply gave one critique for each of the {len(candidates)} candidates"
            )
            record(
                ctx,
                "critic_unparsable",
                attempts=parsed.attempts,
                truncated=parsed.truncated,
                reason=f"{reason}; the candidates go on without critiques",
                raw=parsed.raw,
            )
            return {"critiques": []}
        if extra:
            record(ctx, "critic_extra_blocks", extra=extra, candidates=len(candidates))
        return {"critiques": parsed.value}
