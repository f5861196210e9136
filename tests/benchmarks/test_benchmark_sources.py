"""User-given data in its published layouts: CodeContests parquet shards, the MATH folder."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from archon_async.benchmarks import BenchmarkDataError, get_benchmark


def contest(name: str, **extra: Any) -> dict[str, Any]:
    """A CodeContests row with the Hugging Face dataset's nested fields."""
    return {
        "name": name,
        "description": f"{name}: print a+b.",
        "public_tests": {"input": ["1 2\n"], "output": ["3\n"]},
        "private_tests": {"input": ["5 5\n"], "output": ["10\n"]},
        "generated_tests": {"input": [], "output": []},
        "source": 2,
        "difficulty": 7,
        "solutions": {
            "language": [2, 3],
            "solution": ["int main() {}", "print(sum(map(int, input().split())))"],
        },
        "time_limit": {"seconds": 2, "nanos": 500_000_000},
        "memory_limit_bytes": 256_000_000,
        **extra,
    }


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    pa = pytest.importorskip("pyarrow")
    parquet = pytest.importorskip("pyarrow.parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    parquet.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_code_contests_reads_a_parquet_file(tmp_path: Path) -> None:
    data = write_parquet(tmp_path / "test.parquet", [contest("1_A. Sum"), contest("2_B. Add")])
    first, second = get_benchmark("code_contests", path=data).items()
    assert (first.id, second.id) == ("1_A. Sum", "2_B. Add")
    assert first.reference["public_tests"] == {"input": ["1 2\n"], "output": ["3\n"]}
    assert first.reference["private_tests"]["output"] == ["10\n"]
    assert first.reference["generated_tests"] == {"input": [], "output": []}
    assert first.metadata["time_limit_s"] == 2.5
    # The first Python 3 reference solution is kept (language 3 in the dataset's enum).
    assert first.metadata["python_solution"] == "print(sum(map(int, input().split())))"
    assert "print a+b" in first.messages[0]["content"]


def test_code_contests_reads_the_test_shards_of_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "code_contests" / "data"
    write_parquet(folder / "test-00001-of-00002.parquet", [contest("b")])
    write_parquet(folder / "test-00000-of-00002.parquet", [contest("a")])
    write_parquet(folder / "train-00000-of-00001.parquet", [contest("train")])
    write_parquet(folder / "valid-00000-of-00001.parquet", [contest("valid")])
    items = get_benchmark("code_contests", path=tmp_path / "code_contests").items()
    assert [item.id for item in items] == ["a", "b"]
    # A folder holding only other shards is read whole.
    other = tmp_path / "other"
    write_parquet(other / "part-1.parquet", [contest("y")])
    write_parquet(other / "part-0.parquet", [contest("x")])
    assert [item.id for item in get_benchmark("code_contests", path=other).items()] == ["x", "y"]


def test_code_contests_still_reads_json_lines(tmp_path: Path) -> None:
    data = tmp_path / "test.jsonl"
    data.write_bytes(orjson.dumps(contest("1_A. Sum")) + b"\n")
    (item,) = get_benchmark("code_contests", path=data).items()
    assert item.id == "1_A. Sum" and item.metadata["time_limit_s"] == 2.5


def test_parquet_without_pyarrow_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    data = tmp_path / "test-00000-of-00001.parquet"
    data.write_bytes(b"PAR1" + b"\0" * 16 + b"PAR1")
    with pytest.raises(BenchmarkDataError, match=r"archon-async\[benchmarks\]") as caught:
        get_benchmark("code_contests", path=data).items()
    assert "pyarrow" in str(caught.value)


def test_a_parquet_file_is_never_read_as_json(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow.parquet")
    data = tmp_path / "shard"  # no suffix: recognised by its magic bytes
    data.write_bytes(b"PAR1" + b"\x15\x04" * 20 + b"PAR1")
    with pytest.raises(BenchmarkDataError, match="parquet") as caught:
        get_benchmark("code_contests", path=data).items()
    assert "not JSON" not in str(caught.value) and str(data) in str(caught.value)


def test_riegeli_files_point_to_the_parquet_copy(tmp_path: Path) -> None:
    data = tmp_path / "code_contests_test.riegeli"
    data.write_bytes(b"\x83\xaf\x70\xd1\x0d\x88\x4a\x3f" + b"\0" * 56)
    with pytest.raises(BenchmarkDataError, match="Riegeli") as caught:
        get_benchmark("code_contests", path=data).items()
    assert "deepmind/code_contests" in str(caught.value) and "parquet" in str(caught.value)


@pytest.mark.parametrize("kind", ["empty file", "empty folder", "blank lines"])
def test_no_problems_is_an_error_not_an_empty_run(tmp_path: Path, kind: str) -> None:
    if kind == "empty folder":
        data = tmp_path / "shards"
        data.mkdir()
    else:
        data = tmp_path / "test.jsonl"
        data.write_text("" if kind == "empty file" else "\n\n", encoding="utf-8")
    with pytest.raises(BenchmarkDataError, match="no problems") as caught:
        get_benchmark("code_contests", path=data).items()
    assert str(data) in str(caught.value)


def write_math(root: Path) -> None:
    """The Hendrycks release: MATH/<split>/<subject>/<n>.json, one problem a file."""
    problems = {
        "test/algebra/1.json": ("What is $1+1$?", "Level 1", "Algebra", "So $\\boxed{2}$."),
        "test/geometry/20.json": ("Half?", "Level 3", "Geometry", "$\\boxed{\\frac12}$"),
        "test/algebra/3.json": ("Three?", "Level 2", "Algebra", "It is $\\boxed{3}$."),
        "train/algebra/9.json": ("Train?", "Level 1", "Algebra", "$\\boxed{9}$"),
    }
    for relative, (problem, level, kind, solution) in problems.items():
        path = root / "MATH" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"problem": problem, "level": level, "type": kind, "solution": solution}
        path.write_bytes(orjson.dumps(record))


def test_math_reads_the_official_folder_layout(tmp_path: Path) -> None:
    write_math(tmp_path)
    items = get_benchmark("math", path=tmp_path / "MATH" / "test").items()
    assert [item.id for item in items] == ["algebra/1", "algebra/3", "geometry/20"]
    assert [item.reference for item in items] == ["2", "3", "\\frac12"]
    assert items[2].metadata["level"] == "Level 3" and items[2].metadata["type"] == "Geometry"
    assert "Half?" in items[2].messages[0]["content"]
    # The release's root folder: its test split is read, not the training problems.
    root = get_benchmark("math", path=tmp_path / "MATH").items()
    assert [item.id for item in root] == ["algebra/1", "algebra/3", "geometry/20"]
    # One problem file of the release.
    (single,) = get_benchmark("math", path=tmp_path / "MATH/test/algebra/3.json").items()
    assert single.reference == "3"


def test_math_reads_a_json_array_and_json_lines(tmp_path: Path) -> None:
    rows = [{"problem": "p", "solution": "\\boxed{1}"}, {"problem": "q", "answer": "2"}]
    array = tmp_path / "math.json"
    array.write_bytes(orjson.dumps(rows))
    lines = tmp_path / "math.jsonl"
    lines.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    for path in (array, lines):
        items = get_benchmark("math", path=path).items()
        assert [item.reference for item in items] == ["1", "2"]


@pytest.mark.parametrize("kind", ["empty folder", "binary file", "broken json in folder"])
def test_math_unreadable_paths_say_what_to_pass(tmp_path: Path, kind: str) -> None:
    if kind == "empty folder":
        data = tmp_path / "MATH"
        data.mkdir()
        culprit = data
    elif kind == "binary file":
        data = culprit = tmp_path / "math.bin"
        data.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\xff")
    else:
        data = tmp_path / "MATH" / "test"
        culprit = data / "algebra" / "1.json"
        culprit.parent.mkdir(parents=True)
        culprit.write_text("{not json", encoding="utf-8")
    with pytest.raises(BenchmarkDataError) as caught:
        get_benchmark("math", path=data).items()
    message = str(caught.value)
    assert str(culprit) in message
    assert "MATH" in message and ".json" in message  # what to pass instead
