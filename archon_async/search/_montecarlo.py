"""The simulated ground truth drawn answer by answer (the brute force the exact scores are
checked against, and a noisy evaluator for sampled-question runs).

It follows the rules of `archon_async.search._effects` literally, one candidate at a time,
with its own random draws and none of `_truth`'s algebra.
"""

from __future__ import annotations

import random

from ..simulate._effects import fuser_chance, ranker_accuracy
from ._effects import QuestionSet
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
            accuracy = ranker_accuracy(effects, candidate.critic)
            answers = _select(answers, candidate.ranker_top_k, accuracy, rng)
        answers = [
            rng.random()
            < fuser_chance(effects, sum(answers), len(answers), chances[i], candidate.critic)
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
        right = rng.random() < fuser_chance(effects, sum(answers), len(answers), chances[0], False)
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
