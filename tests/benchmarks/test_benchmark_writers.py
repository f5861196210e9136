"""Official output formats: field names and types each evaluator reads."""

from __future__ import annotations

import keyword
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from archon_async.benchmarks import (
    BenchmarkDataError,
    get_benchmark,
    mixeval_model_name,
    read_answers,
    write_official,
)
from archon_async.benchmarks._tokens import count_tokens, describe_token_counts
from archon_async.benchmarks.writers import arena_hard_metadata
from tests.benchmarks.test_benchmark_loaders import write_mixeval


def lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_mt_bench_fastchat_model_answer(tmp_path: Path) -> None:
    bench = get_benchmark("mt_bench")
    answers = [
        {"id": "81", "answer": "second", "turns": ["first", "second"]},
        {"id": "82", "error": "ProviderServerError: boom"},
    ]
    (path,) = write_official(bench, answers, tmp_path / "model_answer" / "m.jsonl", model="m")
    (row,) = lines(path)
    assert set(row) == {"question_id", "answer_id", "model_id", "choices", "tstamp"}
    assert row["question_id"] == 81 and isinstance(row["question_id"], int)
    assert isinstance(row["answer_id"], str) and row["answer_id"]
    assert row["model_id"] == "m"
    assert row["choices"] == [{"index": 0, "turns": ["first", "second"]}]
    assert isinstance(row["tstamp"], float)
    with pytest.raises(BenchmarkDataError, match="one reply per turn"):
        write_official(bench, [{"id": "81", "answer": "x"}], tmp_path / "x.jsonl", model="m")


def test_arena_hard_current_and_legacy_formats(tmp_path: Path) -> None:
    bench = get_benchmark("arena_hard")
    uid = "328c149ed45a41c0b9d6f14659e63599"
    answer = "# Tune\n\n- **bold** point\n1. step\n```\n# not a header\n```"
    (path,) = write_official(
        bench, [{"id": uid, "answer": answer}], tmp_path / "a.jsonl", model="m"
    )
    (row,) = lines(path)
    assert set(row) == {"uid", "ans_id", "model", "messages", "tstamp", "metadata"}
    assert row["uid"] == uid and row["model"] == "m" and isinstance(row["ans_id"], str)
    assert row["messages"][0] == {
        "role": "user",
        "content": "Use ABC notation to write a melody in the style of a folk tune.",
    }
    assert row["messages"][-1] == {"role": "assistant", "content": {"answer": answer}}
    meta = row["metadata"]
    assert isinstance(meta["token_len"], int)
    assert meta["header_count"]["h1"] == 1  # the one inside the code block is not counted
    assert meta["list_count"] == {"ordered": 1, "unordered": 1}
    assert meta["bold_count"] == {"**": 1, "__": 0}

    (legacy,) = write_official(
        bench, [{"id": uid, "answer": "hi"}], tmp_path / "l.jsonl", model="m", legacy=True
    )
    (old,) = lines(legacy)
    assert set(old) == {
        "question_id",
        "answer_id",
        "model_id",
        "choices",
        "tstamp",
        "conv_metadata",
    }
    # v0.1's turns carry token_len, as arena-hard's and Archon's scripts wrote them.
    assert old["choices"] == [{"index": 0, "turns": [{"content": "hi", "token_len": 1}]}]
    # What v0.1's show_result.py --style-control reads (it asserts the column exists).
    assert old["conv_metadata"] == {
        "token_len": 1,
        "header_count": {"h1": 0, "h2": 0, "h3": 0, "h4": 0, "h5": 0, "h6": 0},
        "list_count": {"ordered": 0, "unordered": 0},
        "bold_count": {"**": 0, "__": 0},
    }


# Counted with tiktoken itself (o200k_base built from the official ranks file, whose sha256
# is the one tiktoken expects; cl100k_base from its official file): 40 and 42 tokens.
STYLED = (
    "# Plan\n\nHere is **the** plan:\n1. Read the 日本語 text 🎉\n"
    "- then <|endoftext|> ends it.\n```python\nprint('hi')\n```"
)


def test_arena_hard_token_len_is_the_official_tokenizers_count() -> None:
    current = arena_hard_metadata(STYLED)
    legacy = arena_hard_metadata(STYLED, legacy=True)
    assert current["token_len"] == 40  # o200k_base, as arena-hard-auto counts today
    assert legacy["token_len"] == 42  # cl100k_base, as v0.1 counted
    # The current show_result.py reads the values by position: nothing else is added.
    assert list(current) == ["token_len", "header_count", "list_count", "bold_count"]
    assert current["header_count"]["h1"] == 1
    assert current["list_count"] == {"ordered": 1, "unordered": 1}
    assert current["bold_count"] == {"**": 1, "__": 0}
    assert describe_token_counts("o200k_base").startswith("o200k_base tokens (bpe-openai)")


def test_token_len_without_the_tokenizer_is_estimated_and_said(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from archon_async.benchmarks import _tokens

    monkeypatch.setitem(sys.modules, "bpe_openai", None)  # as if it were not installed
    _tokens._encoding.cache_clear()
    try:
        assert count_tokens("x" * 40, "o200k_base") == (10, False)
        assert describe_token_counts("cl100k_base").startswith("estimated")
    finally:
        monkeypatch.undo()
        _tokens._encoding.cache_clear()
    assert count_tokens("x" * 40, "o200k_base")[1] is True


def test_alpaca_eval_json_list(tmp_path: Path) -> None:
    data = tmp_path / "model_outputs.json"
    data.write_bytes(
        orjson.dumps(
            [{"dataset": "koala", "instruction": "Say hi.", "output": "Hi", "generator": "g"}]
        )
    )
    bench = get_benchmark("alpaca_eval", path=data)
    (path,) = write_official(
        bench, [{"id": "0", "answer": "Hello!"}], tmp_path / "out.json", model="arch"
    )
    rows = orjson.loads(path.read_bytes())
    assert rows == [
        {"instruction": "Say hi.", "output": "Hello!", "generator": "arch", "dataset": "koala"}
    ]


@pytest.mark.parametrize(("name", "suffix"), [("mixeval", ""), ("mixeval_hard", "_hard")])
def test_mixeval_response_files(tmp_path: Path, name: str, suffix: str) -> None:
    write_mixeval(tmp_path / "data")
    bench = get_benchmark(name, path=tmp_path / "data")
    answers = [{"id": "ff-0", "answer": "Paris"}, {"id": "mc-0", "answer": "B"}]
    free, choice = write_official(bench, answers, tmp_path / "out", model="arch")
    # MixEval registers models by Python identifiers; "archon_" avoids its own names.
    assert free.name == f"archon_arch_close_freeform{suffix}.jsonl"
    assert choice.name == f"archon_arch_close_multichoice{suffix}.jsonl"
    (ff,) = lines(free)
    assert ff["response"] == "Paris" and ff["id"] == "0" and ff["target"] == ["Paris"]
    assert ff["benchmark_name"] == "TriviaQA" and ff["problem_type"] == "free-form"
    assert ff["formated_input"].startswith("Question: Capital of France?")
    (mc,) = lines(choice)
    assert mc["options"] == ["x", "y", "z"] and mc["target"] == [1] and mc["response"] == "B"


def test_humaneval_and_mbpp_samples(tmp_path: Path) -> None:
    humaneval = get_benchmark("humaneval")
    item = humaneval.items()[0]
    body = item.metadata["canonical_solution"]
    (path,) = write_official(
        humaneval,
        [{"id": item.id, "answer": f"```python\n{body}```"}],
        tmp_path / "h.jsonl",
        model="m",
    )
    (row,) = lines(path)
    assert set(row) == {"task_id", "completion"}
    assert row["task_id"] == "HumanEval/0" and row["completion"].strip() == body.strip()

    mbpp = get_benchmark("mbpp")
    (path,) = write_official(
        mbpp,
        [{"id": "11", "answer": "```python\ndef f():\n    pass\n```"}],
        tmp_path / "m.jsonl",
        model="m",
    )
    (row,) = lines(path)
    assert row == {"task_id": 11, "completion": "def f():\n    pass"}


def test_gsm8k_lines_carry_prediction_and_correctness(tmp_path: Path) -> None:
    bench = get_benchmark("gsm8k")
    answers = [
        {"id": "0", "answer": "The answer is: 18"},
        {"id": "1", "answer": "The answer is: 4"},
    ]
    (path,) = write_official(bench, answers, tmp_path / "g.jsonl", model="m")
    rows = lines(path)
    assert [row["correct"] for row in rows] == [True, False]
    assert rows[0] == {
        "id": "0",
        "answer": "The answer is: 18",
        "prediction": "18",
        "reference": "18",
        "correct": True,
    }


def test_unknown_ids_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkDataError, match="'nope' is not in gsm8k"):
        write_official(
            get_benchmark("gsm8k"), [{"id": "nope", "answer": "1"}], tmp_path / "g", model="m"
        )


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("MoA-lite.v2", "archon_moa_lite_v2"),
        ("archon-async-default", "archon_async_default"),
        ("gpt-4o", "archon_gpt_4o"),
        ("single_model-simulated", "archon_single_model_simulated"),
        ("3 layers", "archon_3_layers"),
        ("--", "archon_model"),
    ],
)
def test_mixeval_model_names_are_registrable(model: str, name: str) -> None:
    assert mixeval_model_name(model) == name
    assert name.isidentifier() and not keyword.iskeyword(name)


def test_read_answers_skips_errors_and_cut_lines(tmp_path: Path) -> None:
    path = tmp_path / "answers.jsonl"
    path.write_bytes(
        b'{"id": "1", "answer": "a"}\n{"id": "2", "error": "x"}\n'
        b'{"id": "1", "answer": "b"}\n{"id": "3", "ans'
    )
    assert read_answers(path) == {"1": {"id": "1", "answer": "b"}}


def test_arena_hard_metadata_of_empty_answer() -> None:
    assert arena_hard_metadata("")["token_len"] == 0
