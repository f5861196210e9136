"""Reading benchmark files: the shipped ones and those the user points at."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from ._types import BenchmarkDataError

__all__ = [
    "field_of",
    "is_parquet",
    "packaged",
    "read_json",
    "read_jsonl",
    "read_records",
    "require_path",
    "unreadable",
]

_PARQUET_MAGIC = b"PAR1"


def unreadable(path: Path, exc: OSError) -> BenchmarkDataError:
    """The error for a data path the operating system refuses to read (a folder, no rights)."""
    reason = "it is a folder" if path.is_dir() else (exc.strerror or str(exc))
    return BenchmarkDataError(f"{path}: cannot be read as a data file ({reason})")


def is_parquet(path: Path) -> bool:
    """Whether ``path`` is a Parquet file: by its suffix, or by its leading magic bytes."""
    if path.suffix.lower() == ".parquet":
        return True
    try:
        with path.open("rb") as handle:
            return handle.read(4) == _PARQUET_MAGIC
    except OSError:
        return False


def packaged(relative: str) -> Path:
    """The path of a data file shipped in ``archon_async/benchmarks/data``.

    Raises:
        BenchmarkDataError: the file is missing (a broken installation).
    """
    path = Path(str(resources.files("archon_async.benchmarks").joinpath("data", relative)))
    if not path.is_file():
        raise BenchmarkDataError(f"the packaged data file {relative} is missing; reinstall")
    return path


def require_path(path: Path | str | None, *, benchmark: str, where_to_get: str) -> Path:
    """Check a user-given data path, or say where to get the data.

    Raises:
        BenchmarkDataError: no path was given or it does not exist; names the source.
    """
    if path is None:
        raise BenchmarkDataError(
            f"{benchmark} is not shipped with archon-async; download it and pass its path "
            f"(--data PATH on the command line, path=... in Python). Get it from: {where_to_get}"
        )
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise BenchmarkDataError(
            f"{benchmark}: {resolved} does not exist. Get it from: {where_to_get}"
        )
    return resolved


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every JSON object of a JSON Lines file, blank lines skipped.

    Raises:
        BenchmarkDataError: a line is not a JSON object; names the line.
    """
    records: list[dict[str, Any]] = []
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise unreadable(path, exc) from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise BenchmarkDataError(f"{path}, line {number}: not JSON ({exc})") from None
            if not isinstance(record, dict):
                raise BenchmarkDataError(f"{path}, line {number}: not a JSON object")
            records.append(record)
    return records


def read_json(path: Path) -> Any:
    """A whole JSON file.

    Raises:
        BenchmarkDataError: the file is not JSON.
    """
    try:
        return orjson.loads(path.read_bytes())
    except OSError as exc:
        raise unreadable(path, exc) from None
    except orjson.JSONDecodeError as exc:
        raise BenchmarkDataError(f"{path}: not JSON ({exc})") from None


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records of a JSON array, JSON object, JSON Lines or (with pyarrow) Parquet file.

    A file holding one JSON object that spans several lines (as each problem of the MATH
    release does) is one record.

    Raises:
        BenchmarkDataError: none of these formats, an entry is not an object, or a Parquet
            file without pyarrow installed.
    """
    if is_parquet(path):
        from ._parquet import read_parquet

        return read_parquet(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(64).lstrip()
            handle.seek(0)
            first_line = handle.readline()
    except OSError as exc:
        raise unreadable(path, exc) from None
    if head.startswith(b"["):
        data = read_json(path)
        if not all(isinstance(record, dict) for record in data):
            raise BenchmarkDataError(f"{path}: every entry of the array must be an object")
        return list(data)
    if head.startswith(b"{") and not _parses(first_line):
        # Not JSON Lines: one object over several lines (or broken, which read_json names).
        whole = read_json(path)
        if isinstance(whole, dict):
            return [whole]
    return read_jsonl(path)


def _parses(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def field_of(record: dict[str, Any], key: str, kind: type, where: str) -> Any:
    """``record[key]``, checked to be of ``kind``.

    Raises:
        BenchmarkDataError: the field is missing or of another type.
    """
    value = record.get(key)
    if not isinstance(value, kind):
        raise BenchmarkDataError(f"{where}: field {key!r} must be a {kind.__name__}")
    return value
