"""Benchmark loaders: the shipped sets, user-given paths, clear errors, reproducible parts."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from archon_async import ArchonError, ConfigError, InvalidInputError
from archon_async.benchmarks import (
    BenchmarkDataError,
    BenchmarkItem,
    benchmark_names,
    get_benchmark,
    select,
)


def test_every_name_is_registered() -> None:
    assert benchmark_names() == [
        "gsm8k",
        "math",
        "mt_bench",
        "arena_hard",
        "alpaca_eval",
        "mixeval",
        "mixeval_hard",
        "humaneval",
        "mbpp",
        "code_contests",
    ]
    with pytest.raises(ConfigError, match="unknown benchmark 'gsm9k'"):
        get_benchmark("gsm9k")
    assert get_benchmark("MT-Bench").name == "mt_bench"


def test_gsm8k_has_1319_questions_with_numeric_references() -> None:
    items = get_benchmark("gsm8k").items()
    assert len(items) == 1319
    assert len({item.id for item in items}) == 1319
    first = items[0]
    assert first.reference == "18"
    assert first.messages[0]["role"] == "user"
    assert "Janet" in first.messages[0]["content"]
    assert "The answer is:" in first.messages[0]["content"]


def test_humaneval_has_164_tasks_with_tests() -> None:
    items = get_benchmark("humaneval").items()
    assert len(items) == 164
    assert items[0].id == "HumanEval/0"
    assert items[0].metadata["entry_point"] == "has_close_elements"
    assert "def check(candidate)" in items[0].reference
    assert "```python" in items[0].messages[0]["content"]


def test_mbpp_is_the_test_split_of_500_tasks() -> None:
    items = get_benchmark("mbpp").items()
    assert len(items) == 500
    ids = [item.metadata["task_id"] for item in items]
    assert ids == list(range(11, 511))
    assert items[0].reference[0].startswith("assert ")
    assert "Your code should pass these tests:" in items[0].messages[0]["content"]


def test_mt_bench_has_80_two_turn_questions_and_references() -> None:
    items = get_benchmark("mt_bench").items()
    assert len(items) == 80
    assert all(len(item.turns) == 2 and not item.messages for item in items)
    by_id = {item.id: item for item in items}
    assert by_id["81"].metadata == {"question_id": 81, "category": "writing"}
    math = [item for item in items if item.metadata["category"] == "math"]
    assert len(math) == 10 and all(len(item.reference) == 2 for item in math)


def test_arena_hard_has_500_prompts_by_uid() -> None:
    items = get_benchmark("arena_hard").items()
    assert len(items) == 500
    assert items[0].id == "328c149ed45a41c0b9d6f14659e63599"
    assert items[0].messages == ({"role": "user", "content": items[0].metadata["prompt"]},)


def test_arena_hard_also_reads_the_legacy_format(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy.jsonl"
    record = {"question_id": "q1", "category": "c", "cluster": "k", "turns": [{"content": "Hi"}]}
    legacy.write_bytes(orjson.dumps(record) + b"\n")
    (item,) = get_benchmark("arena_hard", path=legacy).items()
    assert item.id == "q1" and item.messages[0]["content"] == "Hi"


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("alpaca_eval", "tatsu-lab/alpaca_eval"),
        ("mixeval", "Psycoy/MixEval"),
        ("mixeval_hard", "mix_eval/data"),
        ("math", "math-evaluation-harness"),
        ("code_contests", "deepmind/code_contests"),
    ],
)
def test_unshipped_sets_say_where_to_get_them(name: str, hint: str, tmp_path: Path) -> None:
    with pytest.raises(BenchmarkDataError, match=hint) as caught:
        get_benchmark(name).items()
    assert isinstance(caught.value, ArchonError)
    assert "--data" in str(caught.value)
    with pytest.raises(BenchmarkDataError, match="does not exist"):
        get_benchmark(name, path=tmp_path / "missing").items()


def test_math_from_a_user_file(tmp_path: Path) -> None:
    data = tmp_path / "test.jsonl"
    rows = [
        {"problem": "What is $1+1$?", "solution": "So $\\boxed{2}$.", "level": "Level 1"},
        {"problem": "Half?", "solution": "It is $\\boxed{\\frac{1}{2}}$.", "idx": 7},
    ]
    data.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    items = get_benchmark("math", path=data).items()
    assert [item.id for item in items] == ["0", "7"]
    assert [item.reference for item in items] == ["2", "\\frac{1}{2}"]
    assert "\\boxed{}" in items[0].messages[0]["content"]
    assert items[0].metadata["level"] == "Level 1"


def test_alpaca_eval_from_the_model_outputs_file(tmp_path: Path) -> None:
    data = tmp_path / "model_outputs.json"
    rows = [
        {
            "dataset": "helpful_base",
            "instruction": "Name a colour.",
            "output": "Red.",
            "generator": "gpt4_1106_preview",
        },
        {"dataset": "koala", "instruction": "Say hi.", "output": "Hi!", "generator": "g"},
    ]
    data.write_bytes(orjson.dumps(rows))
    items = get_benchmark("alpaca_eval", path=data).items()
    assert [item.id for item in items] == ["0", "1"]
    assert items[0].reference == "Red."
    assert items[0].metadata["dataset"] == "helpful_base"
    assert items[1].messages[0]["content"] == "Say hi."


def write_mixeval(root: Path) -> None:
    for subset in ("mixeval", "mixeval-hard"):
        folder = root / subset
        folder.mkdir(parents=True)
        free = {
            "0": {
                "problem_type": "free-form",
                "context": None,
                "prompt": "Capital of France?",
                "target": ["Paris"],
                "benchmark_name": "TriviaQA",
            }
        }
        choice = {
            "0": {
                "problem_type": "multiple-choice",
                "context": "ctx",
                "prompt": "Pick",
                "options": ["x", "y", "z"],
                "target": [1],
                "benchmark_name": "MMLU",
            }
        }
        (folder / "free-form.json").write_bytes(orjson.dumps(free))
        (folder / "multiple-choice.json").write_bytes(orjson.dumps(choice))


def test_mixeval_from_a_version_folder(tmp_path: Path) -> None:
    write_mixeval(tmp_path)
    items = get_benchmark("mixeval_hard", path=tmp_path).items()
    assert [item.id for item in items] == ["ff-0", "mc-0"]
    choice = items[1].messages[0]["content"]
    assert choice.startswith("ctx\nPick\nA. x\nB. y\nC. z\n")
    assert items[1].reference == [1]
    assert items[0].messages[0]["content"].startswith("Question: Capital of France?")
    # The subset folder itself is accepted too.
    assert len(get_benchmark("mixeval", path=tmp_path / "mixeval").items()) == 2
    with pytest.raises(BenchmarkDataError, match=r"free-form\.json"):
        get_benchmark("mixeval", path=tmp_path / "mixeval" / "free-form.json").items()


def test_code_contests_from_a_jsonl_export(tmp_path: Path) -> None:
    data = tmp_path / "test.jsonl"
    row = {
        "name": "1_A. Sum",
        "description": "Print a+b.",
        "public_tests": {"input": ["1 2\n"], "output": ["3\n"]},
        "private_tests": {"input": ["5 5\n"], "output": ["10\n"]},
        "generated_tests": {"input": [], "output": []},
        "time_limit": {"seconds": 2, "nanos": 0},
    }
    data.write_bytes(orjson.dumps(row) + b"\n")
    (item,) = get_benchmark("code_contests", path=data).items()
    assert item.id == "1_A. Sum"
    assert item.reference["private_tests"]["output"] == ["10\n"]
    assert item.metadata["time_limit_s"] == 2.0
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(orjson.dumps({**row, "public_tests": {"input": ["1"], "output": []}}) + b"\n")
    with pytest.raises(BenchmarkDataError, match="public_tests"):
        get_benchmark("code_contests", path=bad).items()


def test_malformed_lines_are_named(tmp_path: Path) -> None:
    data = tmp_path / "gsm.jsonl"
    data.write_text('{"question": "q", "answer": "#### 1"}\nnot json\n', encoding="utf-8")
    with pytest.raises(BenchmarkDataError, match="line 2"):
        get_benchmark("gsm8k", path=data).items()


def test_select_is_reproducible_and_keeps_order() -> None:
    items = get_benchmark("gsm8k").items()
    first = select(items, sample=50, seed=3)
    again = select(items, sample=50, seed=3)
    other = select(items, sample=50, seed=4)
    assert [item.id for item in first] == [item.id for item in again]
    assert [item.id for item in first] != [item.id for item in other]
    positions = [int(item.id) for item in first]
    assert positions == sorted(positions) and len(set(positions)) == 50
    assert select(items, limit=5) == items[:5]
    assert select(items, sample=50, seed=3, limit=10) == first[:10]
    assert select(items, sample=5000) == items
    assert select(items, sample=10, seed=None) == select(items, sample=10, seed=0)
    with pytest.raises(InvalidInputError):
        select(items, limit=-1)


def test_items_are_frozen() -> None:
    item = get_benchmark("humaneval").items()[0]
    assert isinstance(item, BenchmarkItem)
    with pytest.raises(AttributeError):
        item.id = "x"  # type: ignore[misc]
