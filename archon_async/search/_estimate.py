"""``--estimate``: what a search is expected to spend, before any call.

Expected calls are the planned evaluations times the dev questions times the mean calls
per query of the space (the per-query model of `Space.cost`), plus the model ranking, the
judge (two pairwise calls, or one rating, per question) and the baseline's answers once.
The range runs from the cheapest to the dearest architectures of the space.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._space import Space

if TYPE_CHECKING:
    from ._run import Search

__all__ = ["estimate"]


def estimate(search: Search) -> dict[str, Any]:
    """The expected spend of ``search`` (calls, tokens, dollars: expected, low, high)."""
    space = Space(search.settings, search.models)
    evaluations = min(search.evaluations, len(space))
    if search.oracle:
        return {
            "mode": "oracle",
            "architectures": evaluations,
            "space_size": len(space),
            "calls": 0,
            "tokens": 0,
            "dollars": 0.0,
            "note": "oracle scores are computed exactly: no call is made",
        }
    dev, _held = search.questions()
    questions = len(dev)
    costs = [space.cost(c) for c in space.candidates]
    judged = search._benchmark.scoring == "judge"
    pairwise = search.settings.archon_async.scoring != "single"
    judge_calls = (2 if pairwise else 1) if judged else 0
    ext = search.settings.archon_async
    judge_tokens = 2 * (ext.prompt_tokens + 2 * ext.answer_tokens) if judged else 0
    fixed_calls = len(search.models) * questions * (1 + judge_calls)
    fixed_calls += questions if judged and pairwise else 0
    per_arch_extra = judge_calls * questions

    def total(attribute: str, pick: Any) -> float:
        values = sorted(getattr(c, attribute) for c in costs)
        per_query = pick(values)
        return float(per_query) * questions * evaluations

    mean = lambda values: sum(values) / len(values)  # noqa: E731
    low = lambda values: sum(values[:evaluations]) / max(1, min(evaluations, len(values)))  # noqa: E731
    high = lambda values: sum(values[-evaluations:]) / max(1, min(evaluations, len(values)))  # noqa: E731
    result: dict[str, Any] = {
        "mode": search.mode,
        "architectures": evaluations,
        "space_size": len(space),
        "dev_questions": questions,
    }
    for name, attribute in (("calls", "calls"), ("tokens", "tokens"), ("dollars", "dollars")):
        extra = 0.0
        if name == "calls":
            extra = fixed_calls + per_arch_extra * evaluations
        elif name == "tokens":
            extra = (fixed_calls + per_arch_extra * evaluations) * (
                judge_tokens or ext.prompt_tokens + ext.answer_tokens
            )
        result[name] = {
            "expected": round(total(attribute, mean) + extra, 4),
            "low": round(total(attribute, low) + extra, 4),
            "high": round(total(attribute, high) + extra, 4),
        }
    result["note"] = (
        "an upper range: no cache hit is assumed, though the search's response cache "
        "answers the layers architectures share (and the model ranking's answers) for "
        "nothing; tokens from the per-query model (prompt_tokens, answer_tokens); dollars "
        "at list prices (unpriced models count 0)"
    )
    return result
