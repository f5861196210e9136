"""The ranker: orders the previous layer's candidates and keeps the best ``top_k``.

Two kinds, chosen by the model name:

* An LLM ranker (any chat model): one prompt lists the candidates, with their critiques
  when ``use_critiques`` is set and the previous layer left one per candidate, and asks for
  an ordering ending with a line such as ``Ranking: [3] > [1] > [2]``.
* A reward-model ranker (``llm-blender/PairRM``; any model name containing ``pairrm``):
  the candidates are scored by the scoring backend the engine provides
  (``ctx.scorer(model)``, a `components.scoring.PairwiseScorer`) and sorted by score,
  ties keeping candidate order. No chat call is made.

Parsing an LLM ranking is tolerant: the last line of the reply that reads as a ranking
wins (``[3] > [1] > [2]``, ``3 > 1 > 2``, ``[3], [1], [2]``, with or without a label such as
``Ranking:``), or the last numbered list (``1. [3]`` / ``2. [1]`` ...). Repeated numbers
are dropped, numbers out of range ignored, and candidates the model left out are appended
in their original order. A reply with no ranking at all keeps the original order and is
noted as ``ranker_parse_fallback``: a ranker never fails on a reply.

Settings:
    top_k: how many candidates to keep, best first. Archon requires it; when it is not
        set we keep `DEFAULT_TOP_K` (5), the value most of Archon's ranker configs use.
    use_critiques: show each candidate's critique to the LLM ranker.
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
    complete_text,
    effective_conversation,
    prompt_messages,
    query_of,
    record,
    require_candidates,
)
from .prompts import RANKER_SYSTEM, ranker_prompt
from .scoring import PairwiseScorer, is_reward_model

__all__ = ["DEFAULT_TOP_K", "Ranker", "parse_ranking"]

#: Candidates kept when ``top_k`` is not set.
DEFAULT_TOP_K = 5

# A label before a ranking ("Ranking:", "**Final answer:**") and markdown decoration.
_LABEL = re.compile(r"^[A-Za-z][A-Za-z ()]{0,40}:\s*")
_DECORATION = re.compile(r"[*_`#]")
# One item of a ">"-separated ranking: "[3]", "3", "Response 3", "(3)".
_ITEM = re.compile(
    r"^\s*(?:(?:response|candidate|answer)\s*#?\s*)?[\[(]?\s*(\d+)\s*[\])]?\s*\.?\s*$", re.I
)
_BRACKETED = re.compile(r"\[\s*(\d+)\s*\]")
_BRACKETS = re.compile(r"^\s*\[\s*\d+\s*\](?:\s*[,>;]?\s*\[\s*\d+\s*\])*\s*\.?\s*$")
_BARE_COMMAS = re.compile(r"^\s*\d+(?:\s*,\s*\d+)+\s*\.?\s*$")
_LIST_ITEM = re.compile(r"^\s*\d+\s*[.)]\s*(?:(?:response|candidate)\s*#?\s*)?\[?(\d+)\]?", re.I)


def _line_ranking(line: str) -> list[int] | None:
    """The 1-based numbers of a one-line ranking, or None if the line is not one."""
    text = _DECORATION.sub("", line).strip()
    labelled = _LABEL.match(text) is not None
    text = _LABEL.sub("", text, count=1)
    if ">" in text:
        pieces = text.split(">")
        parts = [_ITEM.match(piece) for piece in pieces]
        if all(parts):
            return [int(cast(re.Match[str], part).group(1)) for part in parts]
        # Prose around a bracketed ranking: "The order is [2] > [1] > [3], since ...".
        # Prose may hold other identifiers before the first item and after the last one.
        found = [_BRACKETED.findall(piece) for piece in pieces]
        if found[0] and found[-1] and all(len(middle) == 1 for middle in found[1:-1]):
            return [int(found[0][-1]), *(int(m[0]) for m in found[1:-1]), int(found[-1][0])]
        return None
    if _BRACKETS.match(text) and (labelled or text.count("[") >= 2):
        return [int(number) for number in re.findall(r"\d+", text)]
    if _BARE_COMMAS.match(text):
        return [int(number) for number in text.split(",")]
    return None


def _found_rankings(lines: Sequence[str]) -> list[tuple[int, list[int]]]:
    """Every ranking in the reply with the index of the line where it ends."""
    found: list[tuple[int, list[int]]] = []
    block: list[int] = []
    for index, line in enumerate(lines):
        item = _LIST_ITEM.match(_DECORATION.sub("", line))
        if item:
            block.append(int(item.group(1)))
            found.append((index, list(block)))
            continue
        block = []
        ranking = _line_ranking(line)
        if ranking:
            found.append((index, ranking))
    return found


def parse_ranking(reply: str, count: int) -> list[int] | None:
    """The order of ``count`` candidates a ranking reply gives, as 0-based indices.

    The last ranking in the reply wins; duplicates and out-of-range numbers are dropped
    and missing candidates appended in their original order.

    Returns:
        A permutation of ``range(count)``, or None when the reply holds no usable ranking.
    """
    for _, numbers in reversed(_found_rankings(reply.splitlines())):
        order: list[int] = []
        for number in numbers:
            if 1 <= number <= count and number - 1 not in order:
                order.append(number - 1)
        if order:
            return order + [i for i in range(count) if i not in order]
    return None


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
            shown = critiques if self.spec.use_critiques else None
            order = await self._llm_order(ctx, conversation, candidates, shown)
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
        reply = await complete_text(ctx, self.spec, messages)
        order = parse_ranking(reply, len(candidates))
        if order is None:
            record(ctx, "ranker_parse_fallback", raw=reply)
            return list(range(len(candidates)))
        return order

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
