"""Reading benchmark files: the shipped ones and those the user points at."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from ._types import BenchmarkDataError

__all__ = ["field_of", "packaged", "read_json", "read_jsonl", "read_records", "require_path"]


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
    with path.open("rb") as handle:
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
    except orjson.JSONDecodeError as exc:
        raise BenchmarkDataError(f"{path}: not JSON ({exc})") from None


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records of a JSON array file or of a JSON Lines file, whichever ``path`` holds.

    Raises:
        BenchmarkDataError: neither format, or an entry is not an object.
    """
    head = path.read_bytes()[:64].lstrip()
    if head.startswith(b"["):
        data = read_json(path)
        if not all(isinstance(record, dict) for record in data):
            raise BenchmarkDataError(f"{path}: every entry of the array must be an object")
        return list(data)
    return read_jsonl(path)


def field_of(record: dict[str, Any], key: str, kind: type, where: str) -> Any:
    """``record[key]``, checked to be of ``kind``.

    Raises:
        BenchmarkDataError: the field is missing or of another type.
    """
    value = record.get(key)
    if not isinstance(value, kind):
        raise BenchmarkDataError(f"{where}: field {key!r} must be a {kind.__name__}")
    return value
