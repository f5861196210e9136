"""The verifier: keeps the candidates that a model judges correct.

For each candidate, concurrently with the others, two calls run one after the other:
a reasoning call (`formats.VERIFIER_REASONING_MARKER`) that checks the candidate step by
step, then a verdict call (`formats.VERIFIER_VERDICT_MARKER`) that reads the reasoning and
must answer ``[Correct]`` or ``[Incorrect]``. The final explicit verdict in the reply
counts (a model often names both options before it concludes): a tag (``[Correct]``,
``[Not correct]``), a verdict phrase (``Verdict: Incorrect``, ``My final verdict is not
correct``), or a last line that is only the verdict word (``**Correct**``). A negation
just before a tag turns it round (``not [Correct]`` is a no); a negation elsewhere in the
sentence does not. Plain prose (``it is incorrect``) is no verdict. A reply with none is
asked again, up to
`PARSE_RETRIES` more times (noted as ``verifier_verdict_retry``), then the candidate
counts as not verified (noted as ``verifier_verdict_unparsable``).

A candidate whose calls fail (a provider error) counts as not verified and is noted as
``verifier_candidate_failed``; if every candidate fails that way the first error is raised.

Settings:
    first_k: keep only the first k verified candidates, in candidate order. All candidates
        are checked concurrently and the selection is made afterwards, so the result is the
        same as Archon's sequential scan with early stop, without its latency.
    batch_num: present in some of Archon's verifier configs but read by no Archon code;
        accepted for compatibility, no effect.
    samples: ignored; each step is one call (Archon keeps only the first sample too).

If no candidate is verified, every candidate passes on to the next layer, as in Archon,
and ``verifier_none_verified`` is noted. Writes ``candidates`` and, when the previous layer
left one critique per candidate, ``critiques`` aligned with the kept candidates.
"""

from __future__ import annotations

import re

from archon_async.core import (
    ArchonError,
    ComponentContext,
    ComponentSpec,
    Message,
    State,
    StateUpdate,
)

from ._common import (
    PARSE_RETRIES,
    aligned_critiques,
    complete_text,
    effective_conversation,
    prompt_messages,
    query_of,
    record,
    require_candidates,
)
from .prompts import VERIFIER_SYSTEM, verifier_reasoning_prompt, verifier_verdict_prompt

__all__ = ["Verifier", "parse_verdict"]

# The three ways a verdict is written; each has an optional inner "not" and the word.
_TAG = re.compile(r"\[\s*(not\s+)?(correct|incorrect)\s*\]", re.I)
_PHRASE = re.compile(
    r"\bverdict(?:\s+is|\s+would\s+be)?[^\w\n]{0,10}"
    r"(?:(?:the|this)\s+(?:response|answer|candidate)\s+is\s+)?(not\s+)?(correct|incorrect)\b",
    re.I,
)
_LAST_LINE = re.compile(r"^[\s*_#>]*(not\s+)?(correct|incorrect)[\s*_.!]*$", re.I)
_NEGATION_REACH = 24
# A negation right before a tag: "not [Correct]", "isn't [Incorrect]", "not **[Correct]**".
_NEGATED = re.compile(r"(?:\bnot|cannot|n't|\bnever)(?:\s+be)?\s*[\"'*_`]*\s*$", re.I)


def _value(match: re.Match[str], negated: bool = False) -> bool:
    correct = match.group(2).lower() == "correct"
    return correct != (negated != bool(match.group(1)))


def parse_verdict(reply: str) -> bool | None:
    """True for a ``[Correct]`` verdict, False for ``[Incorrect]``, None when there is none.

    The final explicit verdict wins: the last tag, ``Verdict: ...`` phrase or verdict-only
    last line, whichever comes last; a negation right before a tag turns it round.
    """
    verdicts: list[tuple[int, bool]] = []
    for match in _TAG.finditer(reply):
        # Only the few characters before the tag can negate it; searching the whole line
        # before every tag would be quadratic in a long line of tags.
        line_start = reply.rfind("\n", 0, match.start()) + 1
        window = max(line_start, match.start() - _NEGATION_REACH)
        negated = _NEGATED.search(reply, window, match.start()) is not None
        verdicts.append((match.start(), _value(match, negated)))
    verdicts += [(match.start(), _value(match)) for match in _PHRASE.finditer(reply)]
    stripped = reply.rstrip()
    last_start = stripped.rfind("\n") + 1
    last = _LAST_LINE.match(stripped[last_start:])
    if last:
        verdicts.append((last_start, _value(last)))
    return max(verdicts, key=lambda verdict: verdict[0])[1] if verdicts else None


class Verifier:
    """Writes ``candidates`` (the verified ones, or all when none is) and aligned critiques.

    Args:
        spec: the component's configuration.
    """

    def __init__(self, spec: ComponentSpec) -> None:
        self.spec = spec

    async def run(self, ctx: ComponentContext, state: State) -> StateUpdate:
        """Verify every candidate concurrently and keep the verified ones.

        Raises:
            ComponentError: there are no candidates.
            ArchonError: the calls failed for every candidate (the first error).
        """
        candidates = require_candidates(state, "verifier")
        critiques = aligned_critiques(ctx, state, len(candidates))
        conversation = effective_conversation(ctx.conversation, state)

        async def check(index: int) -> bool:
            return await self._verify(ctx, conversation, index, candidates[index])

        outcomes = await ctx.map_settled(check, list(range(len(candidates))))
        errors = [o for o in outcomes if isinstance(o, ArchonError)]
        if len(errors) == len(outcomes):
            raise errors[0]
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, ArchonError):
                record(
                    ctx,
                    "verifier_candidate_failed",
                    candidate=index,
                    error=f"{type(outcome).__name__}: {outcome}",
                )
        kept = [i for i, outcome in enumerate(outcomes) if outcome is True]
        if self.spec.first_k is not None:
            kept = kept[: self.spec.first_k]
        if not kept:
            record(ctx, "verifier_none_verified", candidates=len(candidates))
            kept = list(range(len(candidates)))
        update: StateUpdate = {"candidates": [candidates[i] for i in kept]}
        if critiques is not None:
            update["critiques"] = [critiques[i] for i in kept]
        return update

    async def _verify(
        self, ctx: ComponentContext, conversation: list[Message], index: int, candidate: str
    ) -> bool:
        query = query_of(conversation)
        reasoning = await complete_text(
            ctx,
            self.spec,
            prompt_messages(
                VERIFIER_SYSTEM, conversation, verifier_reasoning_prompt(query, candidate)
            ),
        )
        messages = prompt_messages(
            VERIFIER_SYSTEM, conversation, verifier_verdict_prompt(query, candidate, reasoning)
        )
        reply = ""
        for attempt in range(1 + PARSE_RETRIES):
            if attempt:
                record(ctx, "verifier_verdict_retry", candidate=index, attempt=attempt, raw=reply)
            reply = await complete_text(ctx, self.spec, messages)
            verdict = parse_verdict(reply)
            if verdict is not None:
                return verdict
        record(ctx, "verifier_verdict_unparsable", candidate=index, raw=reply)
        return False
