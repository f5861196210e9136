"""Scoring without a judge: GSM8K and MATH exact match, MixEval rules, batch scoring."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_async import ConfigError
from archon_async.benchmarks import (
    BenchmarkItem,
    Sandbox,
    extract_gsm8k_answer,
    extract_math_answer,
    get_benchmark,
    last_boxed,
    math_equal,
    normalize_math_answer,
    score,
    score_all,
)
from tests.benchmarks.test_benchmark_loaders import write_mixeval


@pytest.fixture(scope="module")
def gsm8k() -> list[BenchmarkItem]:
    return get_benchmark("gsm8k").items()


def test_gsm8k_right_answers_in_the_usual_shapes(gsm8k: list[BenchmarkItem]) -> None:
    janet = gsm8k[0]  # 16 - 3 - 4 = 9 eggs at $2: 18
    for answer in (
        "She sells 9 eggs for $2 each.\nThe answer is: 18",
        "9 * 2 = 18 dollars.\nThe answer is: $18.00.",
        "Working...\n#### 18",
        "So she makes \\boxed{18} dollars.",
        "She makes 9 * $2 = $18 every day.",
        "The answer is **18**",
    ):
        result = score("gsm8k", janet, answer)
        assert result.correct, answer
        assert result.prediction == "18" and result.status == "correct"


def test_gsm8k_wrong_answers(gsm8k: list[BenchmarkItem]) -> None:
    janet = gsm8k[0]
    wrong = score("gsm8k", janet, "16 - 3 = 13 eggs, 13 * 2 = 26.\nThe answer is: 26")
    assert not wrong.correct and wrong.prediction == "26" and wrong.status == "wrong"
    # The stated final answer wins over a later number.
    assert not score("gsm8k", janet, "The answer is: 9 eggs, sold at $2 each").correct
    assert not score("gsm8k", janet, "I cannot tell.").correct


def test_gsm8k_numbers_are_normalised() -> None:
    assert extract_gsm8k_answer("Total: 1,234,000 dollars") == "1234000"
    assert extract_gsm8k_answer("The answer is: -3.50") == "-3.5"
    assert extract_gsm8k_answer("no number here") is None
    item = BenchmarkItem(id="x", reference="1,000")
    assert score("gsm8k", item, "The answer is: 1000.0").correct


def test_gsm8k_every_reference_is_its_own_right_answer(gsm8k: list[BenchmarkItem]) -> None:
    for item in gsm8k:
        assert score("gsm8k", item, f"The answer is: {item.reference}").correct, item.id


def math_item(reference: str) -> BenchmarkItem:
    return BenchmarkItem(id="m", reference=reference)


@pytest.mark.parametrize(
    ("answer", "reference"),
    [
        ("So the result is $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
        ("$\\boxed{0.5}$", "\\frac12"),
        ("$\\boxed{\\dfrac{3}{4}}$", "\\frac{3}{4}"),
        ("$\\boxed{x = 5}$", "5"),
        ("$\\boxed{90^\\circ}$", "90"),
        ("$\\boxed{12\\text{ cm}}$", "12"),
        ("$\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("$\\boxed{2\\sqrt{3}}$", "2\\sqrt3"),
        ("$\\boxed{1,\\!000}$", "1000"),
        ("$\\boxed{\\frac{\\sqrt{3}}{2}}$", "\\frac{\\sqrt{3}}{2}"),
    ],
)
def test_math_equivalent_answers_are_right(answer: str, reference: str) -> None:
    result = score("math", math_item(reference), answer)
    assert result.correct, (normalize_math_answer(answer), normalize_math_answer(reference))


@pytest.mark.parametrize(
    ("answer", "reference"),
    [
        ("$\\boxed{\\frac{1}{3}}$", "\\frac{1}{2}"),
        ("$\\boxed{6}$", "5"),
        ("The answer is 6.", "5"),
        ("The final answer is $\\frac{1}{3}$.", "\\frac{1}{2}"),
        ("I am not sure.", "5"),
        ("$\\boxed{1,2}$", "12"),
    ],
)
def test_math_wrong_answers(answer: str, reference: str) -> None:
    assert not score("math", math_item(reference), answer).correct


@pytest.mark.parametrize(
    ("answer", "reference"),
    [
        ("Adding them up, the answer is 5.", "5"),
        ("Working...\nThe final answer is $\\frac{1}{2}$.", "\\frac12"),
        ("Final Answer: The final answer is $12$. I hope it is correct.", "12"),
        ("We simplify.\nAnswer: $x = 7$", "7"),
        ("Step one.\nStep two.\n\\frac{3}{4}", "\\frac{3}{4}"),  # the last line
    ],
)
def test_math_without_boxed_reads_the_final_statement(answer: str, reference: str) -> None:
    result = score("math", math_item(reference), answer)
    assert result.correct, result


def test_math_boxed_wins_over_a_stated_answer() -> None:
    answer = "The answer is 4, or rather $\\boxed{5}$."
    assert score("math", math_item("5"), answer).correct
    assert not score("math", math_item("4"), answer).correct
    assert extract_math_answer("The answer is 5.") == "5"
    assert extract_math_answer("") is None


def test_last_boxed_balances_braces() -> None:
    text = "First \\boxed{1}, finally \\boxed{\\frac{a}{\\sqrt{b}}} done."
    assert last_boxed(text) == "\\frac{a}{\\sqrt{b}}"
    assert last_boxed("no box") is None
    assert last_boxed("\\boxed{unclosed") is None
    assert math_equal(None, "1") is False


def test_mixeval_rule_scoring(tmp_path: Path) -> None:
    write_mixeval(tmp_path)
    free, choice = get_benchmark("mixeval", path=tmp_path).items()
    assert score("mixeval", free, "paris").correct
    assert score("mixeval", free, "The capital is Paris.").correct
    assert not score("mixeval", free, "Lyon").correct
    assert score("mixeval", choice, "B").correct
    assert score("mixeval", choice, "The answer is (B).").correct
    assert not score("mixeval", choice, "A. x").correct


def test_judged_and_code_benchmarks_are_not_scored_by_score() -> None:
    item = BenchmarkItem(id="1")
    with pytest.raises(ConfigError, match="judge"):
        score("mt_bench", item, "text")
    with pytest.raises(ConfigError, match="score_code"):
        score("humaneval", item, "text")


async def test_score_all_exact_counts_missing_answers_as_errors(
    gsm8k: list[BenchmarkItem],
) -> None:
    items = gsm8k[:3]
    answers = {
        items[0].id: f"The answer is: {items[0].reference}",
        items[1].id: "The answer is: -1",
    }
    report = await score_all("gsm8k", items, answers)
    assert [result.correct for result in report.results] == [True, False, False]
    assert report.results[2].status == "error" and report.results[2].detail == "no answer"
    assert report.summary() == {
        "scored": 3,
        "accuracy": 0.3333,
        "correct": 1,
        "wrong": 1,
        "error": 1,
    }


async def test_score_all_runs_code_with_bounded_concurrency() -> None:
    items = get_benchmark("mbpp").items()[:4]
    answers = {item.id: f"```python\n{item.metadata['code']}\n```" for item in items}
    answers[items[3].id] = "```python\nwhile True:\n    pass\n```"
    report = await score_all("mbpp", items, answers, concurrency=2, sandbox=Sandbox(timeout_s=2))
    assert [result.status for result in report.results] == ["passed"] * 3 + ["timeout"]
    assert report.accuracy == 0.75
    with pytest.raises(ConfigError):
        await score_all("arena_hard", items, answers)


async def test_code_contests_runs_every_test_on_stdin(tmp_path: Path) -> None:
    from archon_async.benchmarks import score_code

    item = BenchmarkItem(
        id="sum",
        reference={
            "public_tests": {"input": ["1 2\n"], "output": ["3\n"]},
            "private_tests": {"input": ["5 5\n"], "output": ["10"]},
            "generated_tests": {"input": ["-1 1\n"], "output": ["0\n"]},
        },
        metadata={"time_limit_s": 5.0},
    )
    sandbox = Sandbox(timeout_s=5)
    good = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
    bad = "```python\na, b = map(int, input().split())\nprint(a * b + 1)\n```"
    assert (await score_code("code_contests", item, good, sandbox=sandbox)).correct
    result = await score_code("code_contests", item, bad, sandbox=sandbox)
    assert not result.correct and "test 2" in result.detail


async def test_score_all_reads_batch_output_records(tmp_path: Path) -> None:
    from archon_async.benchmarks import read_answers

    items = get_benchmark("gsm8k").items()[:2]
    out = tmp_path / "answers.jsonl"
    out.write_text(
        '{"id": "0", "answer": "The answer is: 18", "calls": 1}\n{"id": "1", "error": "x"}\n',
        encoding="utf-8",
    )
    report = await score_all("gsm8k", items, read_answers(out))
    assert [result.status for result in report.results] == ["correct", "error"]
