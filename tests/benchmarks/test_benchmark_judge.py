"""Judge prompts and verdict parsing."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from archon_async import ConfigError, OutputParseError
from archon_async.benchmarks import (
    BenchmarkDataError,
    BenchmarkItem,
    build_judge_messages,
    get_benchmark,
    judge_kind,
    parse_judgement,
    read_baseline,
)


def mt_bench_item(question_id: str) -> BenchmarkItem:
    return {item.id: item for item in get_benchmark("mt_bench").items()}[question_id]


def test_mt_bench_single_grading_without_reference() -> None:
    item = mt_bench_item("81")  # writing: no reference
    messages = build_judge_messages("mt_bench", item, ["my blog post", "A rewrite"])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert item.turns[0] in messages[1]["content"]
    assert "my blog post" in messages[1]["content"]
    assert "[[rating]]" in messages[1]["content"]
    assert "Reference" not in messages[1]["content"]
    second = build_judge_messages("mt_bench", item, ["my blog post", "A rewrite"], turn=2)
    assert "A rewrite" in second[1]["content"] and item.turns[1] in second[1]["content"]


def test_mt_bench_math_grading_includes_the_reference() -> None:
    item = mt_bench_item("111")  # math
    messages = build_judge_messages("mt_bench", item, ["4", "5"])
    assert item.reference[0] in messages[1]["content"]
    second = build_judge_messages("mt_bench", item, ["4", "5"], turn=2)
    assert item.reference[1] in second[1]["content"]
    with pytest.raises(ConfigError):
        build_judge_messages("mt_bench", item, ["4"], turn=2)


def test_pairwise_puts_the_baseline_first_unless_swapped() -> None:
    item = get_benchmark("arena_hard").items()[0]
    plain = build_judge_messages("arena_hard", item, "MODEL", baseline="BASE")
    user = plain[1]["content"]
    assert item.metadata["prompt"] in user
    assert user.index("BASE") < user.index("MODEL")
    swapped = build_judge_messages("arena_hard", item, "MODEL", baseline="BASE", swap=True)[1]
    assert swapped["content"].index("MODEL") < swapped["content"].index("BASE")
    with pytest.raises(ConfigError, match="baseline"):
        build_judge_messages("arena_hard", item, "MODEL")


def test_alpaca_eval_uses_the_baseline_output_of_the_file() -> None:
    item = BenchmarkItem(
        id="0",
        messages=({"role": "user", "content": "Say hi."},),
        reference="BASELINE OUTPUT",
    )
    messages = build_judge_messages("alpaca_eval", item, "model output")
    assert "BASELINE OUTPUT" in messages[1]["content"]


def test_judge_kinds() -> None:
    assert judge_kind("mt_bench") == "rating"
    assert judge_kind(get_benchmark("alpaca_eval")) == "pairwise"
    with pytest.raises(ConfigError):
        judge_kind("gsm8k")


def test_parse_rating() -> None:
    verdict = parse_judgement("Good answer, accurate.\nRating: [[8]]", kind="rating")
    assert verdict.rating == 8.0 and verdict.model_score == 8.0
    assert parse_judgement("Rating: [[7.5]]", kind="rating").rating == 7.5
    with pytest.raises(OutputParseError):
        parse_judgement("Rating: 8", kind="rating")
    with pytest.raises(OutputParseError):
        parse_judgement("Rating: [[eleven]]", kind="rating")


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("Rating: [7]", 7.0),  # FastChat's backup pattern: single brackets
        ("Rating: [6.5]", 6.5),
        ("Rating: [[4]] (out of [10])", 4.0),  # double brackets win over single ones
        ("[[3]] at first, then [[9]]", 3.0),  # the first match counts, as in FastChat
        ("See [1]. Rating: [[8]]", 8.0),
    ],
)
def test_parse_rating_reads_what_fastchat_reads(text: str, rating: float) -> None:
    assert parse_judgement(text, kind="rating").rating == rating


def test_a_rating_out_of_range_is_no_rating() -> None:
    with pytest.raises(OutputParseError):
        parse_judgement("Rating: [42]", kind="rating")


@pytest.mark.parametrize(
    ("text", "swap", "score", "strong"),
    [
        ("My verdict: [[B>>A]]", False, 1.0, True),  # model is B
        ("[[B>A]]", False, 1.0, False),
        ("[[A>B]]", False, 0.0, False),
        ("[[A = B]]", False, 0.5, False),
        ("[[A>>B]]", True, 1.0, True),  # swapped: model is A
        ("[[B>A]]", True, 0.0, False),
    ],
)
def test_parse_pairwise(text: str, swap: bool, score: float, strong: bool) -> None:
    verdict = parse_judgement(text, kind="pairwise", swap=swap)
    assert verdict.model_score == score and verdict.strong is strong
    assert verdict.verdict is not None


def test_pairwise_without_or_with_conflicting_verdicts_is_an_error() -> None:
    with pytest.raises(OutputParseError, match="no"):
        parse_judgement("both fine", kind="pairwise")
    with pytest.raises(OutputParseError, match="conflicting"):
        parse_judgement("[[A>B]] ... actually [[B>A]]", kind="pairwise")


def test_read_baseline_matches_alpaca_eval_outputs_by_instruction(tmp_path: Path) -> None:
    items = [
        BenchmarkItem(id="0", metadata={"instruction": "Say hi."}),
        BenchmarkItem(id="1", metadata={"instruction": "Name a colour."}),
    ]
    outputs = tmp_path / "model_outputs.json"
    rows = [
        {"instruction": "Name a colour.", "output": "Red.", "generator": "gpt4_1106_preview"},
        {"instruction": "Not asked.", "output": "x", "generator": "g"},
    ]
    outputs.write_bytes(orjson.dumps(rows))
    assert read_baseline(outputs, items) == {"1": "Red."}
    batch = tmp_path / "batch.jsonl"
    batch.write_bytes(b'{"id": "0", "answer": "Hi"}\n{"id": "1", "error": "x"}\n{"id": "1", "ans')
    assert read_baseline(batch, items) == {"0": "Hi"}
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b'{"id": "1", "error": "boom"}\n')
    with pytest.raises(BenchmarkDataError, match="no baseline answers"):
        read_baseline(empty, items)
