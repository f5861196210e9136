"""Per-item verdicts: after a scored benchmark run, each answer line says whether it was
right (``correct``) and why (``verdict``); official files of simulated runs are named so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from archon_async._cli_benchmark import benchmark_items
from archon_async.benchmarks import get_benchmark
from tests.benchmarks.test_benchmark_cli import namespace


def lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    return path


def test_each_scored_gsm8k_line_carries_its_verdict(tmp_path: Path) -> None:
    first, second, third = get_benchmark("gsm8k").items()[:3]
    records = [
        {"id": first.id, "answer": f"Working.\n#### {first.reference}", "simulated": False},
        {"id": second.id, "answer": "The answer is 123456789.", "simulated": False},
        {"id": third.id, "error": "ProviderServerError: boom", "simulated": False},
    ]
    output = write(tmp_path / "g.jsonl", records)
    _, _, _, finish, _ = benchmark_items(namespace("gsm8k", limit=3))
    report = finish(output)
    right, wrong, error = lines(output)
    assert right["correct"] is True
    assert right["verdict"] == {
        "status": "correct",
        "prediction": str(first.reference),
        "detail": f"expected {first.reference}",
    }
    assert wrong["correct"] is False and wrong["verdict"]["prediction"] == "123456789"
    assert wrong["verdict"]["status"] == "wrong"
    assert "correct" not in error and error["error"].startswith("ProviderServerError")
    assert report["score"]["correct"] == 1 and report["score"]["scored"] == 3
    assert report["score"]["verdicts_in"] == str(output)
    # Scoring again (a resumed run) replaces the verdicts instead of piling them up.
    finish(output)
    assert lines(output) == [right, wrong, error]


def test_each_scored_math_line_carries_its_verdict(tmp_path: Path) -> None:
    data = tmp_path / "math.jsonl"
    problems = [
        {"problem": "Is 7 odd or even?", "solution": "It is $\\boxed{\\text{odd}}$.",
         "level": "Level 1", "type": "Number Theory"},
        {"problem": "What is 999+1?", "solution": "$\\boxed{1000}$",
         "level": "Level 1", "type": "Algebra"},
    ]  # fmt: skip
    data.write_bytes(b"".join(orjson.dumps(problem) + b"\n" for problem in problems))
    items = get_benchmark("math", path=data).items()
    output = write(
        tmp_path / "m.jsonl",
        [
            {"id": items[0].id, "answer": "So $\\boxed{\\text{even}}$."},
            {"id": items[1].id, "answer": "$\\boxed{1{,}000}$"},
        ],
    )
    _, _, _, finish, _ = benchmark_items(namespace("math", data=data))
    finish(output)
    even, thousand = lines(output)
    assert even["correct"] is False and even["verdict"]["prediction"] == "\\text{even}"
    assert thousand["correct"] is True and thousand["verdict"]["prediction"] == "1{,}000"


def test_official_files_of_a_simulated_run_say_so_in_the_model_name(tmp_path: Path) -> None:
    (item,) = get_benchmark("mt_bench").items()[:1]
    record = {"id": item.id, "answer": "b", "turns": ["a", "b"], "simulated": True}
    output = write(tmp_path / "mt.jsonl", [record])
    _, _, _, finish, _ = benchmark_items(namespace("mt_bench", limit=1))
    (official,) = finish(output)["official_files"]
    (row,) = lines(Path(official))
    assert row["model_id"] == "archon-async-default-simulated"
