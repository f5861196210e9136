"""Ranker: the ranking parser, top_k, critiques, fallbacks, and the PairRM scorer path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from archon_async.components._common import PARSE_RETRIES
from archon_async.components.formats import RANKER_MARKER, render_ranking
from archon_async.components.prompts import RANKER_SYSTEM, ranker_prompt
from archon_async.components.ranker import DEFAULT_TOP_K, Ranker, parse_ranking
from archon_async.components.scoring import PairwiseScorer
from archon_async.core import ChatResponse, ComponentError, Message, ProviderServerError

CANDIDATES = ["alpha", "beta", "gamma"]


@pytest.mark.parametrize(
    ("reply", "order"),
    [
        (render_ranking([3, 1, 2]), [2, 0, 1]),
        ("3 > 1 > 2", [2, 0, 1]),
        ("[3], [1], [2]", [2, 0, 1]),
        ("Ranking: [2] > [3] > [1]", [1, 2, 0]),
        ("**Final ranking:** [2] > [3] > [1].", [1, 2, 0]),
        ("1. [3]\n2. [1]\n3. [2]", [2, 0, 1]),
        ("1. Response 2 is best\n2. Response 3\n3. Response 1", [1, 2, 0]),
        ("So the order is [2] > [1] > [3], since [2] is exact.", [1, 0, 2]),
        ("3, 1, 2", [2, 0, 1]),
        ("Answer: [2]", [1, 0, 2]),
        # The last ranking line wins over an earlier draft.
        (
            "Draft: [1] > [2] > [3]\nOn reflection, [3] is best.\nRanking: [3] > [2] > [1]",
            [2, 1, 0],
        ),
        # Duplicates dropped, out-of-range ignored, missing appended in original order.
        ("[2] > [2] > [9] > [0]", [1, 0, 2]),
        ("Ranking: [3]", [2, 0, 1]),
    ],
)
def test_parse_ranking_accepts_the_ways_models_write_it(reply: str, order: list[int]) -> None:
    assert parse_ranking(reply, 3) == order


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "I cannot decide.",
        "[7] > [8]",
        "Candidate [2] is nice but [1] is wrong.",
        "x > y",
        # Best and worst picks are not an order: the last line must not put [1] first.
        "Best: [3]\nWorst: [1]",
        "Worst: [1]",
        "[2] > [2]",
        "The answer: 2 = 2",
    ],
)
def test_parse_ranking_returns_none_without_a_ranking(reply: str) -> None:
    assert parse_ranking(reply, 3) is None


@pytest.mark.parametrize(
    ("reply", "order"),
    [
        # The labelled ranking wins over a later comparison in prose.
        ("Ranking: [2] > [1] > [3]\n\nNote: [1] > [3] mainly because of clarity.", [1, 0, 2]),
        # Without a label, the most complete ranking wins over a later partial one.
        ("[2] > [1] > [3]\n\nAlso [1] > [3] for clarity.", [1, 0, 2]),
        # A ranking label on its own line labels the ranking under it.
        ("Final ranking:\n[3] > [1] > [2]\n\nNote: [1] > [2].", [2, 0, 1]),
        # Ties keep the written order.
        ("[2] = [3] > [1]", [1, 2, 0]),
        ("Ranking: [3] = [1] > [2]", [2, 0, 1]),
        ("Ranking: 2 >= 3 > 1", [1, 2, 0]),
        # A worst-first chain written with "<" is read backwards.
        ("Ranking: [1] < [3] < [2]", [1, 2, 0]),
        # Arrows.
        ("Ranking: 2 -> 3 -> 1", [1, 2, 0]),
        ("Ranking: [3] → [2] → [1]", [2, 1, 0]),
        # A numbered list with explanations and blank lines between the items.
        (
            "1. [2]\n   Exact and clear.\n\n2. [3]\n   Right but long.\n\n3. [1]\n   Wrong.",
            [1, 2, 0],
        ),
        ("Rank 1: [3]\nRank 2: [1]\nRank 3: [2]", [2, 0, 1]),
        # A label that holds an arrow or a parenthesis.
        ("Ranking (best → worst): [3] > [2] > [1]", [2, 1, 0]),
        # Identifiers with a short comment after each.
        ("Ranking: [2] (exact) > [1] (verbose) > [3] (wrong)", [1, 0, 2]),
    ],
)
def test_parse_ranking_picks_the_real_ranking(reply: str, order: list[int]) -> None:
    assert parse_ranking(reply, 3) == order


async def test_llm_ranking_keeps_top_k_best_first(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("ranker", top_k=2), lambda m: "Because...\nRanking: [3] > [1] > [2]")
    update = await Ranker(ctx.spec).run(ctx, {"candidates": CANDIDATES})
    assert update == {"candidates": ["gamma", "alpha"]}
    (call,) = ctx.requests
    assert call.messages[0] == {"role": "system", "content": RANKER_SYSTEM}
    assert RANKER_MARKER in call.prompt
    assert all(f"[{n}] {c}" in call.prompt for n, c in enumerate(CANDIDATES, 1))
    assert "What is 2 + 2?" in call.prompt
    assert "Critique" not in call.prompt


async def test_default_top_k_is_five(make_ctx: Any, spec: Any) -> None:
    candidates = [f"c{i}" for i in range(1, 8)]
    ctx = make_ctx(spec("ranker"), lambda m: render_ranking([7, 6, 5, 4, 3, 2, 1]))
    update = await Ranker(ctx.spec).run(ctx, {"candidates": candidates})
    assert DEFAULT_TOP_K == 5
    assert update["candidates"] == ["c7", "c6", "c5", "c4", "c3"]


async def test_critiques_are_shown_with_use_critiques_and_reordered(
    make_ctx: Any, spec: Any
) -> None:
    ctx = make_ctx(spec("ranker", top_k=2, use_critiques=True), lambda m: "[2] > [3] > [1]")
    state = {"candidates": CANDIDATES, "critiques": ["ca", "cb", "cg"]}
    update = await Ranker(ctx.spec).run(ctx, state)
    assert update == {"candidates": ["beta", "gamma"], "critiques": ["cb", "cg"]}
    assert "Critique of [2]:\ncb" in ctx.requests[0].prompt


@pytest.mark.parametrize("use_critiques", [None, False])
async def test_critiques_are_shown_whenever_present_as_in_archon(
    make_ctx: Any, spec: Any, use_critiques: bool | None
) -> None:
    # Archon's ranker puts the previous layer's critiques in its prompt whatever
    # use_critiques says, and its configs set it to false after a critic layer.
    settings = {} if use_critiques is None else {"use_critiques": use_critiques}
    ctx = make_ctx(spec("ranker", top_k=3, **settings), lambda m: "[2] > [3] > [1]")
    state = {"candidates": CANDIDATES, "critiques": ["ca", "cb", "cg"]}
    update = await Ranker(ctx.spec).run(ctx, state)
    assert update["critiques"] == ["cb", "cg", "ca"]
    assert "Critique of [2]:\ncb" in ctx.requests[0].prompt


async def test_misaligned_critiques_are_not_shown(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("ranker", use_critiques=True), lambda m: "[2] > [3] > [1]")
    state = {"candidates": CANDIDATES, "critiques": ["ca", "cb"]}
    update = await Ranker(ctx.spec).run(ctx, state)
    assert "critiques" not in update
    assert "Critique" not in ctx.requests[0].prompt
    assert ctx.events() == ["critiques_ignored"]


async def test_not_a_ranking_falls_back_to_the_original_order_and_is_noted(
    make_ctx: Any, spec: Any
) -> None:
    ctx = make_ctx(spec("ranker", top_k=3), lambda m: "Best: [3]\nWorst: [1]")
    update = await Ranker(ctx.spec).run(ctx, {"candidates": CANDIDATES})
    assert update == {"candidates": CANDIDATES}
    assert ctx.notes[-1] == {
        "event": "ranker_parse_fallback",
        "attempts": 1 + PARSE_RETRIES,
        "truncated": False,
        "raw": "Best: [3]\nWorst: [1]",
    }


async def test_partial_ranking_is_padded_and_the_missing_are_noted(
    make_ctx: Any, spec: Any
) -> None:
    candidates = ["a", "b", "c", "d"]
    ctx = make_ctx(spec("ranker", top_k=4), lambda m: "Ranking: [3] > [1]")
    update = await Ranker(ctx.spec).run(ctx, {"candidates": candidates})
    assert update == {"candidates": ["c", "a", "b", "d"]}
    assert ctx.notes == [
        {"event": "ranker_partial_ranking", "missing": [1, 3], "raw": "Ranking: [3] > [1]"}
    ]


async def test_complete_ranking_adds_no_note(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("ranker"), lambda m: "Ranking: [3] > [1] > [2]")
    await Ranker(ctx.spec).run(ctx, {"candidates": CANDIDATES})
    assert ctx.notes == []


async def test_unparsable_reply_keeps_original_order_and_is_noted(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("ranker", top_k=2), lambda m: "They are all lovely.")
    update = await Ranker(ctx.spec).run(ctx, {"candidates": CANDIDATES})
    assert update == {"candidates": ["alpha", "beta"]}
    assert ctx.events() == ["ranker_parse_retry"] * PARSE_RETRIES + ["ranker_parse_fallback"]
    assert len(ctx.requests) == 1 + PARSE_RETRIES


async def test_a_copy_of_the_prompt_example_is_not_a_ranking(make_ctx: Any, spec: Any) -> None:
    prompt = ranker_prompt("q", CANDIDATES, None)
    example = next(line for line in prompt.splitlines() if line.startswith("Ranking:"))
    replies = iter([f"Here is my ranking.\n{example}", "Ranking: [3] > [1] > [2]"])
    ctx = make_ctx(spec("ranker", top_k=3), lambda m: next(replies))
    update = await Ranker(ctx.spec).run(ctx, {"candidates": CANDIDATES})
    assert update == {"candidates": [CANDIDATES[2], CANDIDATES[0], CANDIDATES[1]]}
    assert ctx.events() == ["ranker_parse_retry"]
    assert len(ctx.requests) == 2


async def test_a_truncated_reply_without_ranking_is_not_asked_again(
    make_ctx: Any, spec: Any
) -> None:
    cut = ChatResponse(text="Candidate [2] is the most accurate, while", finish_reason="length")
    ctx = make_ctx(spec("ranker", top_k=3, max_tokens=16), lambda m: cut)
    update = await Ranker(ctx.spec).run(ctx, {"candidates": CANDIDATES})
    assert update == {"candidates": CANDIDATES}
    assert len(ctx.requests) == 1
    (note,) = ctx.notes
    assert note["event"] == "ranker_parse_fallback" and note["truncated"] is True
    assert "raise max_tokens of this ranker" in note["hint"]


async def test_one_candidate_needs_no_call(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("ranker", top_k=1), lambda m: "unused")
    assert await Ranker(ctx.spec).run(ctx, {"candidates": ["only"]}) == {"candidates": ["only"]}
    assert ctx.requests == []


async def test_provider_errors_propagate(make_ctx: Any, spec: Any) -> None:
    def reply(messages: list[Message]) -> str:
        raise ProviderServerError("down", status_code=503)

    ctx = make_ctx(spec("ranker"), reply)
    with pytest.raises(ProviderServerError):
        await Ranker(ctx.spec).run(ctx, {"candidates": CANDIDATES})


async def test_no_candidates_is_a_component_error(make_ctx: Any, spec: Any) -> None:
    ctx = make_ctx(spec("ranker"), lambda m: "")
    with pytest.raises(ComponentError, match="no candidates"):
        await Ranker(ctx.spec).run(ctx, {})


class FakeScorer:
    def __init__(self, scores: list[float]) -> None:
        self.scores = scores
        self.calls: list[tuple[str, list[str]]] = []

    async def score(self, query: str, candidates: Sequence[str]) -> list[float]:
        self.calls.append((query, list(candidates)))
        return self.scores


async def test_pairrm_ranks_by_scorer_without_chat_calls(make_ctx: Any, spec: Any) -> None:
    scorer = FakeScorer([0.1, 0.9, 0.5])
    assert isinstance(scorer, PairwiseScorer)
    ranker_spec = spec("ranker", top_k=2).model_copy(
        update={"model": "llm-blender/PairRM", "model_type": ""}
    )
    ctx = make_ctx(ranker_spec, lambda m: "unused", scorers={"llm-blender/PairRM": scorer})
    state = {"candidates": CANDIDATES, "critiques": ["ca", "cb", "cg"]}
    update = await Ranker(ranker_spec).run(ctx, state)
    assert update == {"candidates": ["beta", "gamma"], "critiques": ["cb", "cg"]}
    assert scorer.calls == [("What is 2 + 2?", CANDIDATES)]
    assert ctx.requests == []


async def test_pairrm_ties_keep_candidate_order(make_ctx: Any, spec: Any) -> None:
    ranker_spec = spec("ranker", top_k=3).model_copy(update={"model": "llm-blender/PairRM"})
    scorer = FakeScorer([0.5, 0.7, 0.5])
    ctx = make_ctx(ranker_spec, lambda m: "", scorers={"llm-blender/PairRM": scorer})
    update = await Ranker(ranker_spec).run(ctx, {"candidates": CANDIDATES})
    assert update["candidates"] == ["beta", "alpha", "gamma"]


async def test_pairrm_without_a_scorer_is_a_component_error(make_ctx: Any, spec: Any) -> None:
    ranker_spec = spec("ranker").model_copy(update={"model": "llm-blender/PairRM"})
    ctx = make_ctx(ranker_spec, lambda m: "")
    with pytest.raises(ComponentError, match="needs a scoring backend"):
        await Ranker(ranker_spec).run(ctx, {"candidates": CANDIDATES})


async def test_pairrm_wrong_score_count_is_a_component_error(make_ctx: Any, spec: Any) -> None:
    ranker_spec = spec("ranker").model_copy(update={"model": "llm-blender/PairRM"})
    ctx = make_ctx(ranker_spec, lambda m: "", scorers={"llm-blender/PairRM": FakeScorer([1.0])})
    with pytest.raises(ComponentError, match="1 scores for 3 candidates"):
        await Ranker(ranker_spec).run(ctx, {"candidates": CANDIDATES})


@pytest.mark.parametrize(
    "reply",
    [
        "Ranking: [" + "9" * 5000 + "] > [1]",  # too many digits for int()
        "1. " + "9" * 5000,
        "[1]" + " " * 40_000 + "x",  # a long blank run once backtracked quadratically
        "Ranking: 3, " + " " * 40_000 + "x",
    ],
)
def test_parse_ranking_does_not_raise_on_pathological_replies(reply: str) -> None:
    # Speed is for bench/, but a regex that backtracks quadratically again would make this
    # test take minutes, not milliseconds: someone would notice.
    order = parse_ranking(reply, 3)
    assert order is None or sorted(order) == [0, 1, 2]
