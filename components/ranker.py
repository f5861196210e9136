"""The ranker: orders the previous layer's candidates and keeps the best ``top_k``.

Two kinds, chosen by the model name:

* An LLM ranker (any chat model): one prompt lists the candidates, each followed by its
  critique when the previous layer left one per candidate, and asks for an ordering ending
  with a line such as ``Ranking: [3] > [1] > [2]``.
* A reward-model ranker (``llm-blender/PairRM``; any model name containing ``pairrm``):
  the candidates are scored by the scoring backend the engine provides
  (``ctx.scorer(model)``, a `components.scoring.PairwiseScorer`) and sorted by score,
  ties keeping candidate order. No chat call is made.

Critiques are shown whenever they are present and aligned, whatever ``use_critiques`` says.
That is what Archon's ranker does (its prompt takes the critiques it is given; the flag
only guards an alignment check), and several of Archon's configs set
``use_critiques: false`` on a ranker that follows a critic: honouring the flag would change
what those configs mean. Critiques that do not match the candidates one to one are not
shown (noted as ``critiques_ignored``).

Parsing an LLM ranking is tolerant of how models write one: ``[3] > [1] > [2]``,
``3 > 1 > 2``, ``[3], [1], [2]``, ``3, 1, 2``, a numbered list (``1. [3]`` / ``2. [1]`` ...,
explanations between the items allowed, or ``Rank 1: [3]``), arrows (``->``, ``→``), ties
(``[2] = [3] > [1]`` keeps the written order), and worst-first chains (``[1] < [3] < [2]``),
with or without a label such as ``Ranking:``. When a reply holds several rankings, one
labelled as the ranking (``Ranking:``, ``Final order:``, ``Answer:``, on its line or alone on
the line above) wins over unlabelled ones; then the one naming the most candidates; then the
last. A ranking names at least two different identifiers; a lone identifier counts only
under a ranking label (``Ranking: [3]``), so ``Best: [3]`` / ``Worst: [1]`` is not read as an
order, and a line labelled ``Worst:`` is never a ranking.

Repeated numbers are dropped and numbers out of range ignored. Candidates the model left
out are appended in their original order and noted as ``ranker_partial_ranking`` (with
their 0-based indices under ``missing``). The prompt's example ranking is written with
letters (``Ranking: [X] > [Y] > [Z]``), so a reply that copies it holds no ranking. A reply
with no ranking is asked again up to `PARSE_RETRIES` more times (noted as
``ranker_parse_retry``), except a reply cut at ``max_tokens``, which would be cut again;
then the original order is kept and ``ranker_parse_fallback`` noted (with the last reply,
whether it was cut and what to raise): a ranker never fails on a reply.

Settings:
    top_k: how many candidates to keep, best first. Archon requires it; when it is not
        set we keep `DEFAULT_TOP_K` (5), the value most of Archon's ranker configs use.
    use_critiques: accepted for compatibility, no effect (see above).
    ranker_batch_size: in Archon, the batch size of PairRM's local forward passes. The
        scoring backend here decides its own batching, so the value is accepted for
        compatibility and has no effect.
    samples: ignored; a ranking is one call (Archon forces one sample too).

When the previous layer left critiques aligned with the candidates, the ranker also writes
``critiques``, reordered and cut to match the kept candidates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from archon_async.core import (
    ComponentContext,
    ComponentError,
    ComponentSpec,
    Message,
    State,
    StateUpdate,
)

from ._common import (
    aligned_critiques,
    ask_parsed,
    candidate_number,
    effective_conversation,
    prompt_messages,
    query_of,
    record,
    require_candidates,
    truncation_hint,
)
from .prompts import RANKER_SYSTEM, ranker_prompt
from .scoring import PairwiseScorer, is_reward_model

__all__ = ["DEFAULT_TOP_K", "Ranker", "parse_ranking"]

#: Candidates kept when ``top_k`` is not set.
DEFAULT_TOP_K = 5

# A label before a ranking ("Ranking:", "**Final answer:**", "Ranking (best → worst):")
# and markdown decoration.
_LABEL = re.compile(r"^([A-Za-z][^:\[\]\d\n]{0,60}):\s*")
_DECORATION = re.compile(r"[*_`#]")
# Labels that name the ranking itself, and labels that name something else a ranking
# must not be mistaken for ("Worst: [1]" is not "[1] first").
_RANKING_WORDS = re.compile(
    r"\b(?:rank\w*|order\w*|answer|final|result|conclusion|verdict)\b|\bbest\s+to\s+worst\b",
    re.I,
)
_NOT_RANKING_WORDS = re.compile(r"\b(?:worst|bottom|lowest|least)\b", re.I)
# A line that is only a ranking label, labelling the ranking under it ("Final ranking:").
_LABEL_LINE = re.compile(r"^[A-Za-z][^:\[\]\d\n]{0,60}:?$")
# Separators of a best-first chain (">", arrows, and ties, which keep the written order),
# and of a worst-first one ("<").
_FORWARD = re.compile(r"->|=>|→|⇒|≥|≻|»|>")
_FORWARD_SPLIT = re.compile(r"->|=>|>=|==|→|⇒|≥|≻|»|>+|=|≈")
_TIES = re.compile(r"=|≈")
_BACKWARD = re.compile(r"<|≤|≺|«")
_BACKWARD_SPLIT = re.compile(r"<=|==|≤|≺|«|<+|=|≈")
# One item of a chain: "[3]", "3", "Response 3", "(3)".
_ITEM = re.compile(
    r"^\s*(?:(?:response|candidate|answer)\s*(?:#\s*)?)?(?:[\[(]\s*)?(\d+)\s*(?:[\])]\s*)?(?:\.\s*)?$",
    re.I,
)
_BRACKETED = re.compile(r"\[\s*(\d+)\s*\]")
# "[3] > [1] > [2]" and nothing else: the shape the prompt asks for (see `_line_ranking`).
_PLAIN_CHAIN = re.compile(r"\s*\[\s*\d+\s*\](?:\s*>\s*\[\s*\d+\s*\])+\s*\Z")
# Any digit: a line without one names no candidate (it can only be a ranking's label).
_DIGIT = re.compile(r"\d")
_BRACKETS = re.compile(r"^\s*\[\s*\d+\s*\](?:\s*(?:[,;]\s*)?\[\s*\d+\s*\])*\s*(?:\.\s*)?$")
_BARE_COMMAS = re.compile(r"^\s*\d+(?:\s*,\s*\d+)+\s*(?:\.\s*)?$")
# One item of a numbered list: "1. [3]", "2) Response 1", "Rank 3: [2]"; groups are the
# place in the list and the candidate.
_LIST_ITEM = re.compile(
    r"^\s*(?:(?:rank|place|position)\s*(?:#\s*)?)?(\d+)(?:st|nd|rd|th)?\s*[.):]\s*"
    r"(?:(?:response|candidate|answer)\s*(?:#\s*)?)?(?:\[\s*)?(\d+)",
    re.I,
)


@dataclass(frozen=True)
class _Found:
    """One ranking in a reply: the 1-based numbers as written, where it ends, and whether
    it is labelled as the ranking."""

    line: int
    numbers: list[int]
    labelled: bool


def _chain(pieces: Sequence[str]) -> list[int] | None:
    """The numbers of a chain split at its separators, or None if it is not one."""
    parts = [_ITEM.match(piece) for piece in pieces]
    if all(parts):
        return [candidate_number(cast(re.Match[str], part).group(1)) for part in parts]
    # Prose around a bracketed ranking: "The order is [2] > [1] > [3], since ...", or a
    # comment after each item: "[2] (exact) > [1] (long)". Prose may hold other
    # identifiers before the first item and after the last one, not between items.
    found = [_BRACKETED.findall(piece) for piece in pieces]
    if found[0] and found[-1] and all(len(middle) == 1 for middle in found[1:-1]):
        middle = [candidate_number(m[0]) for m in found[1:-1]]
        return [candidate_number(found[0][-1]), *middle, candidate_number(found[-1][0])]
    return None


def _line_ranking(text: str) -> list[int] | None:
    """The 1-based numbers of a one-line ranking (label already removed), or None."""
    if _PLAIN_CHAIN.match(text):
        # The form the prompt asks for, read in one pass: what the general reading below
        # gives for it (each piece an item), about a tenth of its CPU.
        return [candidate_number(number) for number in _BRACKETED.findall(text)]
    if _FORWARD.search(text) or (_TIES.search(text) and not _BACKWARD.search(text)):
        return _chain(_FORWARD_SPLIT.split(text))
    if _BACKWARD.search(text):
        # Worst first: read it as written, then turn it round.
        backward = _chain(_BACKWARD_SPLIT.split(text))
        return backward[::-1] if backward else None
    if _BRACKETS.match(text):
        return [candidate_number(number) for number in _BRACKETED.findall(text)]
    if _BARE_COMMAS.match(text):
        return [candidate_number(number.strip(" .")) for number in text.split(",")]
    return None


def _label_kind(label: str) -> bool | None:
    """True for a label naming the ranking, None for one naming something else (worst,
    bottom...), False for any other label."""
    if _RANKING_WORDS.search(label):
        return True
    if _NOT_RANKING_WORDS.search(label):
        return None
    return False


def _is_label_line(text: str) -> bool:
    """Whether a (non-blank) line is only a label naming the ranking under it."""
    return bool(_LABEL_LINE.match(text) and _label_kind(text) and len(text.split()) <= 6)


def _found_rankings(lines: Sequence[str]) -> list[_Found]:
    """Every ranking in the reply, in reply order (a growing numbered list once per item)."""
    found: list[_Found] = []
    block: list[int] = []
    block_labelled = False
    pending_label = False  # the previous non-blank line was a bare ranking label
    for index, line in enumerate(lines):
        text = _DECORATION.sub("", line).strip()
        if not _DIGIT.search(text):
            # No identifier: only a bare ranking label matters (most lines of prose).
            if text:
                pending_label = _is_label_line(text)
            continue
        item = _LIST_ITEM.match(text)
        if item:
            place, number = candidate_number(item.group(1)), candidate_number(item.group(2))
            if place == 1:
                block, block_labelled = [number], pending_label
            elif block and place == len(block) + 1:
                block.append(number)
            else:
                block = []  # out of sequence: not the list being read
            if block:
                found.append(_Found(index, list(block), block_labelled))
            pending_label = False
            continue
        # (A bare label line holds no digit: it was read above.)
        label = _LABEL.match(text)
        kind = _label_kind(label.group(1)) if label else False
        numbers = None if kind is None else _line_ranking(_LABEL.sub("", text, count=1))
        if numbers:
            found.append(_Found(index, numbers, bool(kind) or pending_label))
        pending_label = False
    return found


def _read_ranking(reply: str, count: int) -> list[int] | None:
    """The ranking a reply gives, as 0-based indices without padding, or None."""
    best: list[int] | None = None
    best_key: tuple[bool, int, int] | None = None
    for found in _found_rankings(reply.splitlines()):
        # A lone identifier is a ranking only when labelled as one ("Ranking: [3]"); a
        # repeated one ("Answer: 4 = 4") is arithmetic, not a pick.
        lone = len(set(found.numbers)) < 2
        if lone and not (found.labelled and len(found.numbers) == 1):
            continue
        order: list[int] = []
        for number in found.numbers:
            if 1 <= number <= count and number - 1 not in order:
                order.append(number - 1)
        key = (found.labelled, len(order), found.line)
        if order and (best_key is None or key > best_key):
            best, best_key = order, key
    return best


def parse_ranking(reply: str, count: int) -> list[int] | None:
    """The order of ``count`` candidates a ranking reply gives, as 0-based indices.

    Of several rankings, one labelled as the ranking wins, then the most complete, then the
    last. Duplicates and out-of-range numbers are dropped and missing candidates appended
    in their original order.

    Returns:
        A permutation of ``range(count)``, or None when the reply holds no usable ranking.
    """
    order = _read_ranking(reply, count)
    if order is None:
        return None
    return order + [i for i in range(count) if i not in order]


class Ranker:
    """Writes ``candidates`` (the ``top_k`` best, best first) and, when aligned critiques
    came in, ``critiques`` in the same order.

    Args:
        spec: the component's configuration.
    """

    def __init__(self, spec: ComponentSpec) -> None:
        self.spec = spec
        self.top_k = spec.top_k if spec.top_k is not None else DEFAULT_TOP_K
        self.reward_model = is_reward_model(spec.model)

    async def run(self, ctx: ComponentContext, state: State) -> StateUpdate:
        """Rank the previous candidates.

        Raises:
            ComponentError: there are no candidates, or a reward model has no scorer.
            ProviderError: the ranking call or the scoring backend failed.
        """
        candidates = require_candidates(state, "ranker")
        critiques = aligned_critiques(ctx, state, len(candidates))
        conversation = effective_conversation(ctx.conversation, state)
        if len(candidates) == 1:
            # Nothing to order: skip the call.
            order = [0]
        elif self.reward_model:
            order = await self._score_order(ctx, query_of(conversation), candidates)
        else:
            order = await self._llm_order(ctx, conversation, candidates, critiques)
        kept = order[: self.top_k]
        update: StateUpdate = {"candidates": [candidates[i] for i in kept]}
        if critiques is not None:
            update["critiques"] = [critiques[i] for i in kept]
        return update

    async def _llm_order(
        self,
        ctx: ComponentContext,
        conversation: Sequence[Message],
        candidates: list[str],
        critiques: list[str] | None,
    ) -> list[int]:
        prompt = ranker_prompt(query_of(conversation), candidates, critiques)
        messages = prompt_messages(RANKER_SYSTEM, conversation, prompt)
        count = len(candidates)
        parsed = await ask_parsed(
            ctx,
            self.spec,
            messages,
            lambda reply: _read_ranking(reply, count),
            retry_event="ranker_parse_retry",
        )
        order = parsed.value
        if order is None:
            fields = {"hint": truncation_hint(self.spec)} if parsed.truncated else {}
            record(
                ctx,
                "ranker_parse_fallback",
                attempts=parsed.attempts,
                truncated=parsed.truncated,
                **fields,
                raw=parsed.raw,
            )
            return list(range(count))
        missing = [i for i in range(count) if i not in order]
        if missing:
            record(ctx, "ranker_partial_ranking", missing=missing, raw=parsed.raw)
        return order + missing

    async def _score_order(
        self, ctx: ComponentContext, query: str, candidates: list[str]
    ) -> list[int]:
        scorer = cast(PairwiseScorer | None, ctx.scorer(self.spec.model))
        if scorer is None:
            raise ComponentError(
                f"the ranker model {self.spec.model!r} is a reward model and needs a scoring "
                "backend: pass scorers={model: ...} to the Engine or set PAIRRM_BASE_URL"
            )
        scores = await scorer.score(query, candidates)
        if len(scores) != len(candidates):
            raise ComponentError(
                f"the scoring backend returned {len(scores)} scores "
                f"for {len(candidates)} candidates"
            )
        # sorted() is stable: equal scores keep candidate order.
        return sorted(range(len(candidates)), key=lambda i: -scores[i])
