"""Per-item verdicts: each answer line of a scored benchmark run says whether it was right.

After scoring, the batch output file is rewritten with, on every answer line that was
scored, ``"correct": true|false`` and, for code benchmarks, ``"sandbox": {"status": ...,
"detail": ...}`` (passed / failed / timeout / memory / error, and why: the assertion, the
exception, "exited with status 0 before every test ran"...), for the others ``"verdict":
{"status", "prediction", "detail"}`` (the answer extracted and the one expected). A user
can then see which items failed and why without rerunning anything.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import orjson

from ._types import ScoreResult

__all__ = ["annotate_answers", "verdict_fields"]


def verdict_fields(result: ScoreResult, *, code: bool) -> dict[str, Any]:
    """The fields an answer line gets: ``correct``, and ``sandbox`` for code; for the other
    benchmarks ``verdict``: the ``status`` (``correct``/``wrong``), the ``prediction``
    extracted from the answer and the ``detail`` (what was expected)."""
    fields: dict[str, Any] = {"correct": result.correct}
    if code:
        fields["sandbox"] = {"status": result.status, "detail": result.detail}
    else:
        fields["verdict"] = {
            "status": result.status,
            "prediction": result.prediction,
            "detail": result.detail,
        }
    return fields


def annotate_answers(path: Path, results: list[ScoreResult], *, code: bool) -> int:
    """Write each result's verdict into the answer lines of ``path`` with its id.

    The file is rewritten whole and swapped in at once (a temporary file beside it, then
    ``os.replace``), so a kill leaves either the old file or the new one. Lines that are not
    scored answers (error lines, a line cut off by a kill) are kept as they are.

    Returns:
        How many lines got a verdict.
    """
    by_id = {result.id: result for result in results}
    temporary = path.with_name(path.name + ".scoring")
    annotated = 0
    try:
        with path.open("rb") as source, temporary.open("wb") as target:
            for line in source:
                record = _record(line)
                result = by_id.get(str(record.get("id"))) if record is not None else None
                if record is not None and result is not None and "answer" in record:
                    record.update(verdict_fields(result, code=code))
                    line = orjson.dumps(record) + b"\n"
                    annotated += 1
                target.write(line)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return annotated


def _record(line: bytes) -> dict[str, Any] | None:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None
