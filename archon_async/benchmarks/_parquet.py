"""Reading Parquet files (the Hugging Face copies of benchmarks) with the optional pyarrow.

pyarrow is a large dependency that only some benchmarks' data needs, so it is an extra
(``pip install 'archon-async[benchmarks]'``) and imported only when a Parquet file is read.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._types import BenchmarkDataError

__all__ = ["PARQUET_EXTRA", "read_parquet"]

#: What to install to read Parquet files; the error messages name it.
PARQUET_EXTRA = "pip install 'archon-async[benchmarks]'"


def _parquet_module() -> Any:
    # Imported by name so that type checking does not need pyarrow (it ships no types).
    try:
        return importlib.import_module("pyarrow.parquet")
    except ImportError:
        return None


def read_parquet(path: Path, *, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every row of a Parquet file as a dict (nested structs become dicts, lists lists).

    Args:
        path: the file.
        columns: read only these columns where the file has them (shards of large sets
            carry columns, such as every submitted solution, that are not needed); None
            reads all.

    Raises:
        BenchmarkDataError: pyarrow is not installed (names the extra), or the file is not
            a readable Parquet file.
    """
    parquet = _parquet_module()
    if parquet is None:
        raise BenchmarkDataError(
            f"{path} is a Parquet file; reading it needs pyarrow: {PARQUET_EXTRA}"
        )
    try:
        handle = parquet.ParquetFile(path)
        present = set(handle.schema_arrow.names)
        wanted = None if columns is None else [name for name in columns if name in present]
        table = handle.read(columns=wanted)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise BenchmarkDataError(f"{path}: not a readable Parquet file ({exc})") from None
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows
