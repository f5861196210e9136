"""The exact expected score agrees with drawing answers one by one, and the effects do what
their names say."""

from __future__ import annotations

import random

import numpy as np
import pytest

from archon_async.search import Candidate, Effects, Space, Truth, draw_answer, search_file_from_dict
from tests.search._spaces import small_space


def _space(**extension: object) -> Space:
    settings, models = search_file_from_dict(small_space(**extension))
    return Space(settings, models)


@pytest.mark.parametrize("judged", [False, True])
def test_exact_scores_agree_with_brute_force_sampling(judged: bool) -> None:
    space = _space()
    effects = Effects(seed=3, questions=40)
    truth = Truth(space, effects, judged=judged)
    rng = random.Random(7)
    picks = random.Random(1).sample(list(space.candidates), 12)
    runs = 60  # per question: 2,400 runs per architecture
    for candidate in picks:
        hits = sum(
            draw_answer(space, truth.questions, candidate, q, rng, judged=judged)
            for q in range(effects.questions)
            for _ in range(runs)
        )
        sampled = 100.0 * hits / (runs * effects.questions)
        exact = truth.score(candidate)
        # Four standard errors of a proportion near 0.5 over 2,400 draws: 4.1 points.
        assert abs(sampled - exact) < 4.1, (candidate.key(), sampled, exact)


def test_brute_force_and_exact_agree_per_question_on_a_deep_architecture() -> None:
    space = _space()
    effects = Effects(seed=5, questions=3, sample_correlation=0.5)
    truth = Truth(space, effects, judged=False)
    deep = Candidate(3, 2, (2, 1), True, 2, "none")
    space_big = Space(*search_file_from_dict(small_space() | {"maximum_inference_calls": 40}))
    truth = Truth(space_big, effects, judged=False)
    exact = truth.accuracy(deep)
    rng = random.Random(11)
    for q in range(3):
        hits = sum(
            draw_answer(space_big, truth.questions, deep, q, rng, judged=False) for _ in range(6000)
        )
        assert abs(hits / 6000 - exact[q]) < 0.026, (q, hits / 6000, exact[q])


def test_a_fuser_can_corrupt_a_right_majority_and_critiques_reduce_it() -> None:
    space = Space(*search_file_from_dict(small_space() | {"maximum_inference_calls": 40}))
    strong = Effects(
        skills={m.model: 0.9 for m in space.models},
        difficulty_sd=0.0,
        affinity_sd=0.0,
        fuser_corrupt=0.8,
        sample_correlation=0.0,
    )
    truth = Truth(space, strong, judged=False)
    samples_only = Candidate(3, 1, (), False, 0, "none")
    fused = Candidate(3, 1, (2,), False, 0, "none")
    criticised = Candidate(3, 1, (2,), True, 0, "none")
    # Deeper is not always better: another fusion layer loses right majorities...
    assert truth.score(fused) < truth.score(samples_only)
    # ...and a critic before it loses fewer.
    assert truth.score(criticised) > truth.score(fused)


def test_an_imperfect_verifier_and_judge_are_imperfect() -> None:
    space = _space()
    base = Candidate(2, 2, (), False, 0, "none")
    verified = Candidate(2, 2, (), False, 0, "verifier")
    perfect = Truth(space, Effects(verifier_tpr=1.0, verifier_fpr=0.0), judged=False)
    sloppy = Truth(space, Effects(verifier_tpr=0.5, verifier_fpr=0.5), judged=False)
    assert perfect.score(verified) > perfect.score(base)
    # A verifier no better than a coin filters at random: it gains far less.
    assert sloppy.score(base) == perfect.score(base)
    gain_perfect = perfect.score(verified) - perfect.score(base)
    assert sloppy.score(verified) - sloppy.score(base) < gain_perfect / 2
    # A judge of skill 0.5 sees no difference between architectures.
    coin = Truth(space, Effects(judge_skill=0.5), judged=True)
    assert coin.score(verified) == pytest.approx(50.0)


def test_per_question_difficulty_spreads_the_chances() -> None:
    space = _space()
    flat = Truth(space, Effects(difficulty_sd=0.0, affinity_sd=0.0), judged=False)
    spread = Truth(space, Effects(difficulty_sd=2.0), judged=False)
    assert np.ptp(flat.questions.p[0]) == 0
    assert np.ptp(spread.questions.p[0]) > 0.5


def test_the_table_scores_every_feasible_candidate_in_order() -> None:
    space = _space()
    truth = Truth(space, Effects(), judged=False)
    table = truth.table()
    assert table.shape == (len(space),)
    i = len(space) // 2
    assert table[i] == truth.score(space.candidates[i])
