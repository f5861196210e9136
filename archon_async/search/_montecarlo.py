"""The simulated ground truth drawn answer by answer (the brute force the exact scores are
checked against, and a noisy evaluator for sampled-question runs).

It follows the rules of `archon_async.search._effects` literally, one candidate at a time,
with its own random draws and none of `_truth`'s algebra.
"""

from __future__ import annotations

import random

from ._effects import Effects, QuestionSet
from ._space import Candidate, Space

__all__ = ["draw_answer"]


def draw_answer(
    space: Space,
    questions: QuestionSet,
    candidate: Candidate,
    question: int,
    rng: random.Random,
    *,
    judged: bool,
) -> bool:
    """One run of ``candidate`` on question ``question``: whether it scores (is right, or is
    judged a win on a judged benchmark)."""
    effects = questions.effects
    ext = space.settings.archon_async
    chances = [float(questions.p[m, question]) for m in range(len(space.models))]
    answers: list[bool] = []
    for m in range(candidate.model_top_k):
        if rng.random() < effects.sample_correlation:
            answers += [rng.random() < chances[m]] * candidate.sample_top_k
        else:
            answers += [rng.random() < chances[m] for _ in range(candidate.sample_top_k)]
    for width in candidate.fusers:
        if candidate.ranker_top_k:
            accuracy = effects.ranker_accuracy + (
                effects.critique_ranker_bonus if candidate.critic else 0.0
            )
            answers = _select(answers, candidate.ranker_top_k, min(1.0, accuracy), rng)
        answers = [
            rng.random() < _fuser_chance(answers, chances[i], candidate.critic, effects)
            for i in range(width)
        ]
    if candidate.final == "verifier":
        kept = [
            a
            for a in answers
            if rng.random() < (effects.verifier_tpr if a else effects.verifier_fpr)
        ]
        answers = kept or answers
    elif candidate.final == "unit_tests":
        answers = _select(answers, ext.final_top_k, effects.unit_test_accuracy, rng)
    if ext.add_final_fuser:
        right = rng.random() < _fuser_chance(answers, chances[0], False, effects)
    else:
        right = rng.choice(answers)
    if judged:
        return rng.random() < (effects.judge_skill if right else 1 - effects.judge_skill)
    return right


def _select(answers: list[bool], keep: int, accuracy: float, rng: random.Random) -> list[bool]:
    if keep >= len(answers):
        return answers
    if rng.random() < accuracy:
        return sorted(answers, reverse=True)[:keep]
    return rng.sample(answers, keep)


def _fuser_chance(answers: list[bool], pf: float, critic: bool, effects: Effects) -> float:
    right = sum(answers)
    own = effects.fuser_self * pf
    if right == 0:
        return own
    share = right / len(answers)
    if share > 0.5:
        factor = effects.critique_corrupt_factor if critic else 1.0
        return 1 - effects.fuser_corrupt * (1 - pf) * factor
    rescue = min(1.0, effects.fuser_rescue + (effects.critique_rescue_bonus if critic else 0.0))
    return max(own, share + (1 - share) * rescue * pf * 2 * share)
