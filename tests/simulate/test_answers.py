"""The answer key: finding questions in prompts, judging answers, making wrong ones."""

from __future__ import annotations

import random

import pytest

from archon_async.simulate._answers import (
    AnswerKey,
    KnownQuestion,
    contains_answer,
    wrong_answer,
)

KEY = AnswerKey(
    {
        "How many legs does a spider have?": "8",
        "How many legs does a spider have in total on both sides?": "8",
        "Capital?": "Paris",
        "gsm8k-17": "1,250",
    }
)


def test_find_by_exact_text_containment_and_id() -> None:
    exact = KEY.find("  how many legs does a SPIDER have?\n")
    assert exact == KnownQuestion("how many legs does a spider have?", "8")
    inside = KEY.find("The query: How many legs does a spider have in total on both sides? ...")
    assert inside is not None
    assert inside.question.endswith("on both sides?")  # the longest match wins
    assert KEY.find("What is the Capital? Tell me.") == KnownQuestion("capital?", "Paris")
    assert KEY.find("anything", question_id="GSM8K-17") == KnownQuestion("gsm8k-17", "1,250")
    assert KEY.find("How many arms does an octopus have?") is None
    assert AnswerKey({}).find("How many legs does a spider have?") is None


def test_contains_answer_prefers_stated_answers() -> None:
    spider = KnownQuestion("how many legs does a spider have?", "8")
    assert contains_answer("It has 8 legs.", spider)
    assert not contains_answer("It has 18 legs, or 8.5.", spider)
    assert not contains_answer("How many legs does a spider have? I do not know.", spider)
    # Stated answers decide; other numbers around them (like "[8]" labels) do not count.
    assert contains_answer("Rank all 8 candidates. The answer is 8.", spider)
    assert not contains_answer("Rank all 8 candidates. The answer is 6.\n#### 6", spider)
    money = KnownQuestion("q", "1,250")
    assert contains_answer("#### 1250", money)
    assert contains_answer("The answer is 1,250.", money)


@pytest.mark.parametrize("answer", ["8", "0", "1,250", "2.5", "B", "c", "Paris"])
def test_wrong_answers_differ(answer: str) -> None:
    rng = random.Random(0)
    known = KnownQuestion("q", answer)
    for _ in range(50):
        wrong = wrong_answer(answer, rng)
        assert wrong != answer
        assert not contains_answer(f"The answer is {wrong}.", known)
