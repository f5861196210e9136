"""The simulated provider's replies follow the seeded ground truth, task by task, and an
architecture run through the engine scores what `Truth` computes for it."""

from __future__ import annotations

import asyncio
import random

import numpy as np
import pytest

from archon_async import Engine
from archon_async.components.critic import parse_critiques
from archon_async.components.prompts import (
    critic_prompt,
    fuser_prompt,
    ranker_prompt,
    unit_test_evaluator_prompt,
    verifier_verdict_prompt,
)
from archon_async.components.ranker import parse_ranking
from archon_async.search import Candidate, Space, Truth, search_file_from_dict
from archon_async.simulate import SIMULATED_MARK, SimulatedServer, SimulationSettings
from archon_async.simulate._answers import AnswerKey, contains_answer
from archon_async.simulate._effects import Effects, GroundTruth, fuser_chance
from archon_async.simulate._grounded import Grounded
from archon_async.simulate._tasks import detect_task

QUESTION = "Question 7: how many apples are left if 30 of 72 are eaten?"
ANSWER = "42"
MODEL = "sim-a"
KEY = AnswerKey({QUESTION: ANSWER})


def _grounded(seed: int = 0, **effects: object) -> Grounded:
    truth = GroundTruth(effects=Effects(seed=1, questions=10, **effects), questions={QUESTION: 7})  # type: ignore[arg-type]
    return Grounded(truth, seed)


def _reply(grounded: Grounded, text: str, rng: random.Random, model: str = MODEL) -> str:
    prompt = detect_task(text)
    known = KEY.find(prompt.text)
    assert known is not None
    reply = grounded.reply(prompt, known, 7, model, rng)
    assert reply is not None
    return reply


def _candidate(right: bool, rng: random.Random) -> str:
    answer = ANSWER if right else str(40 - rng.randint(1, 5))
    words = " ".join(rng.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(14))
    return f"{SIMULATED_MARK}\n{words}. The answer is {answer}.\n#### {answer}"


def _right(text: str) -> bool:
    known = KEY.find(QUESTION)
    assert known is not None
    return contains_answer(text, known)


def _near(hits: int, draws: int, chance: float) -> None:
    """Within five standard errors of a proportion (a false alarm about 1 in 1.7 million)."""
    sd = max(1e-9, (chance * (1 - chance) / draws) ** 0.5)
    assert abs(hits / draws - chance) <= 5 * sd + 1e-9, (hits / draws, chance)


def test_generator_samples_are_right_with_the_models_chance_and_correlated() -> None:
    rho, samples, groups = 0.5, 3, 1500
    all_same = hits = 0
    for seed in range(groups):
        grounded = _grounded(seed, sample_correlation=rho)
        answers = [
            _right(_reply(grounded, QUESTION, random.Random(seed * samples + s)))
            for s in range(samples)
        ]
        hits += sum(answers)
        all_same += len(set(answers)) == 1
    p = float(grounded.chances.chance(MODEL)[7])
    _near(hits, groups * samples, p)
    _near(all_same, groups, rho + (1 - rho) * (p**samples + (1 - p) ** samples))


@pytest.mark.parametrize(("right", "shown"), [(0, 3), (1, 3), (2, 3), (3, 3)])
def test_a_fuser_is_right_with_the_fuser_chance_of_what_it_is_shown(right: int, shown: int) -> None:
    grounded = _grounded(fuser_corrupt=0.6)
    rng = random.Random(right)
    draws = 1500
    hits = 0
    for _ in range(draws):
        candidates = [_candidate(i < right, rng) for i in range(shown)]
        hits += _right(_reply(grounded, fuser_prompt(QUESTION, candidates), rng))
    pf = float(grounded.chances.chance(MODEL)[7])
    _near(hits, draws, fuser_chance(grounded.effects, right, shown, pf, critic=False))


def test_fresh_critiques_help_a_fuser_and_stale_ones_do_not() -> None:
    grounded = _grounded(fuser_corrupt=0.9, critique_corrupt_factor=0.1)
    rng = random.Random(3)
    draws = 1500
    fresh = stale = 0
    for _ in range(draws):
        candidates = [_candidate(i < 2, rng) for i in range(3)]
        critiques = parse_critiques(_reply(grounded, critic_prompt(QUESTION, candidates), rng), 3)
        assert critiques is not None
        fresh += _right(_reply(grounded, fuser_prompt(QUESTION, candidates, critiques), rng))
        others = [_candidate(True, rng) for _ in range(3)]  # critiques of an earlier layer
        stale += _right(
            _reply(grounded, fuser_prompt(QUESTION, others[:2] + candidates[2:], critiques), rng)
        )
    pf = float(grounded.chances.chance(MODEL)[7])
    _near(fresh, draws, fuser_chance(grounded.effects, 2, 3, pf, critic=True))
    _near(stale, draws, fuser_chance(grounded.effects, 2, 3, pf, critic=False))


@pytest.mark.parametrize("critiqued", [False, True])
def test_a_ranker_puts_the_right_candidate_first_with_its_accuracy(critiqued: bool) -> None:
    grounded = _grounded(ranker_accuracy=0.5, critique_ranker_bonus=0.3)
    rng = random.Random(5)
    draws = 1500
    first_right = 0
    for _ in range(draws):
        candidates = [_candidate(i == 1, rng) for i in range(4)]
        critiques = None
        if critiqued:
            critiques = parse_critiques(
                _reply(grounded, critic_prompt(QUESTION, candidates), rng), 4
            )
        reply = _reply(grounded, ranker_prompt(QUESTION, candidates, critiques), rng)
        order = parse_ranking(reply, 4)
        assert order is not None
        first_right += order[0] == 1
    accuracy = 0.8 if critiqued else 0.5
    _near(first_right, draws, accuracy + (1 - accuracy) / 4)


def test_the_verifier_passes_right_and_wrong_answers_at_its_rates() -> None:
    grounded = _grounded(verifier_tpr=0.8, verifier_fpr=0.3)
    rng = random.Random(9)
    draws = 1500
    for right, rate in ((True, 0.8), (False, 0.3)):
        passed = 0
        for _ in range(draws):
            text = verifier_verdict_prompt(QUESTION, _candidate(right, rng), "It checks out.")
            passed += "[Correct]" in _reply(grounded, text, rng)
        _near(passed, draws, rate)


def test_unit_tests_sort_right_answers_first_with_one_coin_per_set_of_tests() -> None:
    grounded = _grounded(unit_test_accuracy=0.7)
    rng = random.Random(11)
    draws = 1500
    accurate = 0
    for draw in range(draws):
        tests = [f"Check {draw} holds.", "The result is a whole number."]
        verdicts = [
            _reply(grounded, unit_test_evaluator_prompt(QUESTION, _candidate(r, rng), tests), rng)
            for r in (True, False)
        ]
        right_passes, wrong_passes = (v.count("[Passed]") for v in verdicts)
        # Either the tests tell the answers apart, or every answer passes them all.
        assert (right_passes, wrong_passes) in ((2, 0), (2, 2))
        accurate += wrong_passes == 0
    _near(accurate, draws, 0.7)


def test_a_rating_judge_scores_a_right_answer_with_its_skill() -> None:
    grounded = _grounded(judge_skill=0.8)
    rng = random.Random(13)
    draws = 1500
    for right, rate in ((True, 0.8), (False, 0.2)):
        tens = 0
        for _ in range(draws):
            text = (
                f"[Question]\n{QUESTION}\n\n[The Start of Assistant's Answer]\n"
                f"{_candidate(right, rng)}\n[The End of Assistant's Answer]\n"
                'Rate it strictly in this format: "[[rating]]".'
            )
            tens += "[[10]]" in _reply(grounded, text, rng)
        _near(tens, draws, rate)


def test_ground_truth_refuses_a_question_number_outside_the_effects() -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.9"):
        GroundTruth(effects=Effects(questions=10), questions={QUESTION: 10})


async def test_architectures_run_through_the_engine_score_their_exact_expected_score() -> None:
    from tests.search._spaces import small_space

    settings, models = search_file_from_dict(small_space() | {"maximum_inference_calls": 40})
    space = Space(settings, models)
    questions = 45
    effects = Effects(seed=3, questions=questions, sample_correlation=0.5)
    truth = Truth(space, effects, judged=False)
    texts = {f"Question {q}: what is {q} plus {q + 1000}?": q for q in range(questions)}
    key = {text: str(2 * q + 1000) for text, q in texts.items()}
    # A deep one (two layers, critic and ranker, verifier) and one with unit tests.
    picks = [
        Candidate(3, 1, (2, 2), True, 2, "verifier"),
        Candidate(2, 2, (2,), False, 0, "unit_tests"),
    ]
    answer_key = AnswerKey(key)
    hits: list[bool] = []
    chances: list[float] = []
    for seed in range(2):
        ground = GroundTruth(effects=effects, questions=texts)
        settings_ = SimulationSettings(seed=seed, answer_key=key, ground_truth=ground)
        async with SimulatedServer(settings_) as server:
            for candidate in picks:
                config = space.archon_config(candidate)
                async with Engine(config, simulate=server.base_url, seed=seed) as engine:
                    results = await asyncio.gather(*(engine.generate(text) for text in texts))
                for (text, q), result in zip(texts.items(), results, strict=True):
                    known = answer_key.find(text)
                    assert known is not None and result.text.startswith(SIMULATED_MARK)
                    hits.append(contains_answer(result.text, known))
                    chances.append(float(truth.accuracy(candidate)[q]))
    expected = np.array(chances)
    z = (sum(hits) - expected.sum()) / np.sqrt((expected * (1 - expected)).sum())
    assert abs(z) < 4, (sum(hits) / len(hits), expected.mean())


def test_two_questions_playing_one_number_draw_apart() -> None:
    other = "Question 8: how many pears are left if 11 of 53 are eaten?"
    truth = GroundTruth(
        effects=Effects(seed=1, questions=10, sample_correlation=1.0),
        questions={QUESTION: 7, other: 7},
    )
    key = AnswerKey({QUESTION: ANSWER, other: ANSWER})
    draws = 1500
    same = 0
    for seed in range(draws):
        grounded = Grounded(truth, seed)
        answers = []
        for text in (QUESTION, other):
            known = key.find(text)
            assert known is not None
            reply = grounded.reply(detect_task(text), known, 7, MODEL, random.Random(seed))
            assert reply is not None
            answers.append(contains_answer(reply, known))
        same += answers[0] == answers[1]
    p = float(Grounded(truth, 0).chances.chance(MODEL)[7])
    _near(same, draws, p**2 + (1 - p) ** 2)


def test_each_draw_of_a_question_draws_its_own_correlated_group() -> None:
    # Fully correlated samples: within one draw every sample of a model is right or wrong
    # together; another draw (a race pass) is another run of the question, its group drawn
    # anew, right with the model's chance; draw 0 is the group it always was.
    grounded = _grounded(3, sample_correlation=1.0)
    prompt = detect_task(QUESTION)
    known = KEY.find(prompt.text)
    assert known is not None

    def right(draw: int, sample: int) -> bool:
        reply = grounded.reply(prompt, known, 7, MODEL, random.Random(sample), draw)
        assert reply is not None
        return _right(reply)

    draws = 400
    groups = [{right(d, s) for s in range(3)} for d in range(draws)]
    assert all(len(group) == 1 for group in groups)
    p = float(grounded.chances.chance(MODEL)[7])
    _near(sum(True in group for group in groups), draws, p)
    old = grounded.reply(prompt, known, 7, MODEL, random.Random(0))  # no draw: draw 0
    assert old == grounded.reply(prompt, known, 7, MODEL, random.Random(0), 0)
