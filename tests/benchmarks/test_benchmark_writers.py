"""Official output formats: field names and types each evaluator reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from archon_async.benchmarks import BenchmarkDataError, get_benchmark, read_answers, write_official
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
    assert set(old) == {"question_id", "answer_id", "model_id", "choices", "tstamp"}
    # v0.1's turns carry token_len, as arena-hard's and Archon's scripts wrote them.
    assert old["choices"] == [{"index": 0, "turns": [{"content": "hi", "token_len": 1}]}]


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
    assert free.name == f"arch_close_freeform{suffix}.jsonl"
    assert choice.name == f"arch_close_multichoice{suffix}.jsonl"
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


def test_read_answers_skips_errors_and_cut_lines(tmp_path: Path) -> None:
    path = tmp_path / "answers.jsonl"
    path.write_bytes(
        b'{"id": "1", "answer": "a"}\n{"id": "2", "error": "x"}\n'
        b'{"id": "1", "answer": "b"}\n{"id": "3", "ans'
    )
    assert read_answers(path) == {"1": {"id": "1", "answer": "b"}}


def test_arena_hard_metadata_of_empty_answer() -> None:
    assert arena_hard_metadata("")["token_len"] == 0
