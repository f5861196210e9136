"""GSM8K and MATH scoring against tricky answer pairs with a careful human's verdict.

``data/scoring_pairs.jsonl`` holds our own pairs (reference, reply, verdict, why): the
forms the issue names (the final ``#### n`` wins, ``{,}`` separators, ``05``, a number on
the next line, ``\\boxed{\\text{even}}`` against ``\\text{odd}``, an empty box...) and the
usual traps of each benchmark's answers.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from archon_async.benchmarks import BenchmarkItem, extract_gsm8k_answer, score

PAIRS = [
    orjson.loads(line)
    for line in (Path(__file__).parent / "data" / "scoring_pairs.jsonl").read_bytes().splitlines()
]


def verdict(pair: dict[str, Any]) -> bool:
    item = BenchmarkItem(id="pair", reference=pair["reference"])
    return score(pair["benchmark"], item, pair["answer"]).correct


def test_each_family_has_at_least_60_pairs_of_both_verdicts() -> None:
    for family in ("gsm8k", "math"):
        pairs = [pair for pair in PAIRS if pair["benchmark"] == family]
        assert len(pairs) >= 60, family
        assert sum(pair["correct"] for pair in pairs) >= 20
        assert sum(not pair["correct"] for pair in pairs) >= 20


@pytest.mark.parametrize("pair", PAIRS, ids=lambda pair: f"{pair['benchmark']}-{pair['why']}")
def test_the_scorer_agrees_with_the_human_verdict(pair: dict[str, Any]) -> None:
    assert verdict(pair) is pair["correct"], pair


def test_no_wrong_answer_is_scored_right() -> None:
    wrongly_right = [pair for pair in PAIRS if not pair["correct"] and verdict(pair)]
    assert wrongly_right == []


@pytest.mark.parametrize(
    ("reply", "number"),
    [
        ("the answer is 5 ... #### 7", "7"),
        ("Answer: 12 + 24 = 36", "36"),
        ("The answer is $9{,}500.", "9500"),
        ("The answer is 05", "5"),
        ("So the total is\n29", "29"),
        ("16-3=13 so she has 13 left", "13"),
        ("The answer is: -3.50", "-3.5"),
        ("The answer is 1/2", "1/2"),
        ("The answer is twelve.", "12"),
        ("The answer is twenty-five.", "25"),
        ("no number here", None),
    ],
)
def test_gsm8k_extraction_gives_the_final_number(reply: str, number: str | None) -> None:
    assert extract_gsm8k_answer(reply) == number


def test_scoring_works_off_the_main_thread() -> None:
    # Math-Verify's time bound uses signal.alarm, which only the main thread may set.
    results: list[bool] = []
    item = BenchmarkItem(id="m", reference="\\frac{1}{2}")
    worker = threading.Thread(
        target=lambda: results.append(score("math", item, "$\\boxed{0.5}$").correct)
    )
    worker.start()
    worker.join(timeout=60)
    assert results == [True]
