"""Loaders of the code benchmarks: HumanEval, MBPP and CodeContests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._types import Message
from ._files import field_of, packaged, read_jsonl, read_records, require_path
from ._prompts import code_contests_prompt, humaneval_prompt, mbpp_prompt
from ._types import BenchmarkDataError, BenchmarkItem

__all__ = [
    "CODE_CONTESTS_SOURCE",
    "MBPP_TEST_IDS",
    "load_code_contests",
    "load_humaneval",
    "load_mbpp",
]

#: The MBPP test split (google-research mbpp/README): task ids 11 to 510.
MBPP_TEST_IDS = range(11, 511)

CODE_CONTESTS_SOURCE = (
    "google-deepmind/code_contests (gs://dm-code_contests) or the Hugging Face dataset "
    "deepmind/code_contests, test split, exported to JSON Lines with the fields name, "
    "description, public_tests, private_tests, generated_tests (each {input: [...], "
    "output: [...]}); data licence CC BY 4.0"
)


def _user(text: str) -> tuple[Message, ...]:
    return (Message(role="user", content=text),)


def load_humaneval(path: Path | None) -> list[BenchmarkItem]:
    """HumanEval: 164 functions to complete; the reference is the test code."""
    source = path or packaged("humaneval/HumanEval.jsonl")
    items = []
    for index, record in enumerate(read_jsonl(source)):
        where = f"{source}, record {index}"
        task_id = field_of(record, "task_id", str, where)
        prompt = field_of(record, "prompt", str, where)
        items.append(
            BenchmarkItem(
                id=task_id,
                messages=_user(humaneval_prompt(prompt)),
                reference=field_of(record, "test", str, where),
                metadata={
                    "task_id": task_id,
                    "prompt": prompt,
                    "entry_point": field_of(record, "entry_point", str, where),
                    "canonical_solution": record.get("canonical_solution"),
                },
            )
        )
    return items


def load_mbpp(path: Path | None) -> list[BenchmarkItem]:
    """MBPP test split (task ids 11-510, 500 tasks); the reference is the assert list."""
    source = path or packaged("mbpp/mbpp.jsonl")
    items = []
    for index, record in enumerate(read_jsonl(source)):
        where = f"{source}, record {index}"
        task_id = field_of(record, "task_id", int, where)
        if task_id not in MBPP_TEST_IDS:
            continue
        tests = [str(test) for test in field_of(record, "test_list", list, where)]
        text = field_of(record, "text", str, where)
        items.append(
            BenchmarkItem(
                id=str(task_id),
                messages=_user(mbpp_prompt(text, tests)),
                reference=tests,
                metadata={
                    "task_id": task_id,
                    "text": text,
                    "test_setup_code": record.get("test_setup_code") or "",
                    "code": record.get("code"),
                },
            )
        )
    return items


def _tests(record: dict[str, Any], key: str, where: str) -> dict[str, list[str]]:
    tests = record.get(key) or {"input": [], "output": []}
    if not isinstance(tests, dict):
        raise BenchmarkDataError(f"{where}: {key!r} must be an object {{input, output}}")
    inputs, outputs = tests.get("input") or [], tests.get("output") or []
    if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
        raise BenchmarkDataError(f"{where}: {key!r} needs input and output lists of one length")
    return {"input": [str(x) for x in inputs], "output": [str(x) for x in outputs]}


def load_code_contests(path: Path | None) -> list[BenchmarkItem]:
    """CodeContests from a JSONL export; the reference is every test (public first)."""
    source = require_path(path, benchmark="CodeContests", where_to_get=CODE_CONTESTS_SOURCE)
    items = []
    for index, record in enumerate(read_records(source)):
        where = f"{source}, record {index}"
        name = field_of(record, "name", str, where)
        description = field_of(record, "description", str, where)
        tests = {key: _tests(record, key, where) for key in _TEST_KEYS}
        items.append(
            BenchmarkItem(
                id=name,
                messages=_user(code_contests_prompt(description)),
                reference=tests,
                metadata={"name": name, "time_limit_s": _time_limit(record.get("time_limit"))},
            )
        )
    return items


_TEST_KEYS = ("public_tests", "private_tests", "generated_tests")


def _time_limit(value: Any) -> float | None:
    # The official format stores {seconds, nanos}; exports sometimes flatten it to a number.
    if isinstance(value, int | float):
        return float(value) or None
    if isinstance(value, dict):
        seconds = float(value.get("seconds") or 0) + float(value.get("nanos") or 0) / 1e9
        return seconds or None
    return None
