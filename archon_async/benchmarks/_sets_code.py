"""Loaders of the code benchmarks: HumanEval, MBPP and CodeContests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._types import Message
from ._files import field_of, is_parquet, packaged, read_jsonl, read_records, require_path
from ._parquet import PARQUET_EXTRA, read_parquet
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
    "the Hugging Face dataset deepmind/code_contests: pass its test shard "
    "(data/test-00000-of-00001-*.parquet) or a folder of its Parquet shards (the test "
    f"shards are read when there are any; Parquet needs {PARQUET_EXTRA}), or a JSON/JSON "
    "Lines export with the fields name, description, public_tests, private_tests, "
    "generated_tests (each {input: [...], output: [...]}); data licence CC BY 4.0"
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
    """CodeContests from Parquet shards or a JSON export; the reference is every test.

    ``path`` is a Parquet, JSON or JSON Lines file, or a folder of them (searched
    recursively; when some file names start with ``test``, only those are read, so the
    dataset's whole folder gives its test split).

    Raises:
        BenchmarkDataError: no path, a Riegeli file (the official release; use the Parquet
            copy), Parquet without pyarrow, a malformed record, or no problems at all.
    """
    source = require_path(path, benchmark="CodeContests", where_to_get=CODE_CONTESTS_SOURCE)
    items = []
    for file in _contest_files(source):
        records = read_parquet(file, columns=_COLUMNS) if is_parquet(file) else read_records(file)
        for index, record in enumerate(records):
            items.append(_contest_item(record, f"{file}, record {index}"))
    if not items:
        raise BenchmarkDataError(
            f"CodeContests: {source} holds no problems. Get them from: {CODE_CONTESTS_SOURCE}"
        )
    return items


def _contest_files(source: Path) -> list[Path]:
    if source.is_dir():
        files = sorted(
            file
            for file in source.rglob("*")
            if file.is_file() and (file.suffix in _SHARD_SUFFIXES or _is_riegeli(file))
        )
        tests = [file for file in files if file.name.startswith("test")]
        files = tests or files
    else:
        files = [source]
    riegeli = [file for file in files if _is_riegeli(file)]
    if riegeli:
        raise BenchmarkDataError(
            f"CodeContests: {riegeli[0]} is in Riegeli, the format of the official release, "
            "which archon-async does not read. Use the Parquet copy instead: "
            + CODE_CONTESTS_SOURCE
        )
    return files


def _is_riegeli(file: Path) -> bool:
    # The release names its files code_contests_<split>.riegeli[-NNNNN-of-NNNNN].
    return "riegeli" in file.name.lower()


def _contest_item(record: dict[str, Any], where: str) -> BenchmarkItem:
    name = field_of(record, "name", str, where)
    description = field_of(record, "description", str, where)
    tests = {key: _tests(record, key, where) for key in _TEST_KEYS}
    metadata: dict[str, Any] = {
        "name": name,
        "time_limit_s": _time_limit(record.get("time_limit")),
    }
    solution = _python3_solution(record.get("solutions"))
    if solution is not None:
        metadata["python_solution"] = solution
    return BenchmarkItem(
        id=name,
        messages=_user(code_contests_prompt(description)),
        reference=tests,
        metadata=metadata,
    )


#: PYTHON3 in the dataset's Language enum (UNKNOWN_LANGUAGE, PYTHON, CPP, PYTHON3, JAVA).
_PYTHON3 = 3


def _python3_solution(solutions: Any) -> str | None:
    """The first correct Python 3 solution of the record, if it carries them."""
    if not isinstance(solutions, dict):
        return None
    languages = solutions.get("language") or []
    codes = solutions.get("solution") or []
    for language, code in zip(languages, codes, strict=False):
        if language == _PYTHON3 and isinstance(code, str):
            return code
    return None


_TEST_KEYS = ("public_tests", "private_tests", "generated_tests")
_COLUMNS = ("name", "description", *_TEST_KEYS, "time_limit", "solutions")
_SHARD_SUFFIXES = (".parquet", ".jsonl", ".json")


def _time_limit(value: Any) -> float | None:
    # The official format stores {seconds, nanos}; exports sometimes flatten it to a number.
    if isinstance(value, int | float):
        return float(value) or None
    if isinstance(value, dict):
        seconds = float(value.get("seconds") or 0) + float(value.get("nanos") or 0) / 1e9
        return seconds or None
    return None
