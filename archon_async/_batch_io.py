"""Batch input and output files: JSONL prompts in, JSONL answers out, resumable."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import orjson

from ._exceptions import InvalidInputError
from ._frozen import quick_init
from ._types import normalize_messages

__all__ = [
    "AnswerWriter",
    "BatchItem",
    "answer_id",
    "iter_jsonl_items",
    "prepare_output",
    "validate_jsonl_input",
]


@quick_init
@dataclass(frozen=True, slots=True)
class BatchItem:
    """One prompt of a batch.

    Attributes:
        id: unique within the batch; the answer line carries it.
        messages: the conversation to answer (OpenAI role/content dicts).
        turns: for multi-turn benchmarks (MT-Bench), the user turns answered one after
            another, each with the conversation so far; ``messages`` is then unused.
        metadata: carried into the answer line untouched.
        raw_id: the id as the input wrote it (an integer stays an integer in the output).
        draw: which independent answer to the prompt (`Engine.generate`'s ``draw``; 0 for
            a batch, the pass for the search's race).
    """

    id: str
    messages: Sequence[Mapping[str, Any]] = ()
    turns: Sequence[str] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    raw_id: str | int | None = None
    draw: int = 0

    @property
    def output_id(self) -> str | int:
        """The id written on the answer line."""
        return self.id if self.raw_id is None else self.raw_id


_ITEM_KEYS = ("id", "prompt", "messages")


def _item_from_record(record: Any, place: str, number: int) -> BatchItem:
    """The item of one input record; an error names it as ``f"{place} {number}"``, a
    string built only for a bad record (every line of a file is read twice: checked, then
    run; bench/RESULTS.md, "Measure 3, tenth pass")."""
    if type(record) is not dict and not isinstance(record, dict):
        raise InvalidInputError(f"{place} {number}: each line must be a JSON object")
    raw_id = record.get("id")
    # A non-empty string (nearly every id) passes the first test alone.
    if not (type(raw_id) is str and raw_id) and (
        not isinstance(raw_id, str | int) or isinstance(raw_id, bool) or raw_id == ""
    ):
        raise InvalidInputError(f"{place} {number}: {_id_problem(raw_id)}")
    prompt, messages = record.get("prompt"), record.get("messages")
    if (prompt is None) == (messages is None):
        raise InvalidInputError(
            f"{place} {number}: give exactly one of 'prompt' (a string) or 'messages'"
        )
    if prompt is not None and not isinstance(prompt, str):
        raise InvalidInputError(f"{place} {number}: 'prompt' must be a string")
    source: Any = messages if prompt is None else prompt
    try:
        checked = normalize_messages(source)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{place} {number}: {exc}") from None
    # Nothing beside the id and the prompt (most lines): no pass over the keys.
    extra = {k: v for k, v in record.items() if k not in _ITEM_KEYS} if len(record) > 2 else {}
    return BatchItem(str(raw_id), checked, (), extra, raw_id)


def _id_problem(raw_id: Any) -> str:
    """What is wrong with an input line's ``id`` that is no non-empty string or integer."""
    if isinstance(raw_id, float):
        # orjson reads a whole number beyond 64 bits as a float: it was not written as one.
        return (
            f"'id' is {raw_id!r}, a number with a fraction, an exponent or beyond 64 bits: "
            "write such an id as a string (in quotes)"
        )
    return "'id' must be a non-empty string or an integer"


def iter_jsonl_items(path: Path) -> Iterator[BatchItem]:
    """Read a prompts file lazily, one `BatchItem` a line (blank lines skipped).

    Raises:
        InvalidInputError: a line is not JSON or lacks an id and a prompt; names the line.
    """
    place = f"{path}, line"
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield _parse_item_line(line, place, number)


def _parse_item_line(line: bytes, place: str, number: int) -> BatchItem:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"{place} {number}: not valid JSON ({exc})") from None
    return _item_from_record(record, place, number)


#: How many bad lines of an input file are listed before the check gives up.
MAX_REPORTED_LINES = 20


def validate_jsonl_input(path: Path, *, shown_as: str | None = None) -> int:
    """Check a whole prompts file before any call: valid lines, unique ids.

    Every bad line is reported (up to `MAX_REPORTED_LINES`), not only the first, under
    ``shown_as`` (e.g. "standard input", spooled to a temporary file) or else the path.

    Returns:
        The number of prompts.

    Raises:
        InvalidInputError: the file is missing or has no prompt, lines are invalid, or ids
            repeat; the message lists each bad line.
    """
    name = shown_as or str(path)
    if not path.is_file():
        # A pipe (`--input <(...)`) cannot be read twice: once to check, once to run.
        what = "is not a regular file (a folder, a pipe)" if path.exists() else "does not exist"
        raise InvalidInputError(
            f"{name}: the input file {what}: give the path of a JSONL file (the command line "
            "reads prompts from standard input with --input -)"
        )
    place = f"{name}, line"
    seen: dict[str, int] = {}
    problems: list[str] = []
    bad = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = _parse_item_line(line, place, number)
            except InvalidInputError as exc:
                bad += 1
                problems.append(str(exc))
                continue
            first = seen.setdefault(item.id, number)
            if first != number:
                bad += 1
                problems.append(
                    f"{place} {number}: id {item.id!r} appears twice (first on line {first})"
                )
    if problems:
        shown = problems[:MAX_REPORTED_LINES]
        more = f"\n  ... and {bad - len(shown)} more" if bad > len(shown) else ""
        raise InvalidInputError(
            f"{name}: {bad} bad line{'s' if bad > 1 else ''}, nothing was run:\n  "
            + "\n  ".join(shown)
            + more
        )
    if not seen:
        raise InvalidInputError(
            f'{name}: the input file has no prompt (expected lines such as {{"id": 1, '
            '"prompt": "..."})'
        )
    return len(seen)


def prepare_output(
    path: Path,
    *,
    retry_errors: bool,
    fingerprint: str | None = None,
    simulated: bool | None = None,
) -> set[str]:
    """Make an output file ready to append to, and say which ids are finished.

    A batch killed at any moment leaves at most one partial last line: it is dropped. With
    ``retry_errors`` the error lines are dropped too, so those prompts run again without
    leaving duplicates. The file is rewritten line by line (memory stays flat).

    Args:
        path: the answers file.
        retry_errors: drop error lines so that those prompts run again.
        fingerprint: the architecture's fingerprint; answers written by another one are
            not mixed in (lines without one, from older files, are accepted).
        simulated: whether this run is simulated; simulated and real lines are never mixed
            (lines that do not say, from older files, are accepted).

    Returns:
        The ids whose lines are kept: they are not run again.

    Raises:
        InvalidInputError: the file holds answers of another architecture, simulated
            answers for a real run (or real ones for a simulated run), or is not an answers
            file at all (a prompts file, anything else): it is left untouched.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        return set()
    if not path.is_file():
        raise InvalidInputError(f"{path}: the output is not a regular file")
    _check_answers_file(path, fingerprint, simulated)
    finished: set[str] = set()
    changed = False
    temporary = path.with_name(path.name + ".tmp")
    with path.open("rb") as handle, temporary.open("wb") as kept:
        for line in handle:
            record = _parse_answer_line(line)
            if record is None or answer_id(record) in finished:
                changed = True
                continue
            if retry_errors and "error" in record:
                changed = True
                continue
            finished.add(answer_id(record))
            kept.write(line)
    if changed:
        os.replace(temporary, path)
    else:
        temporary.unlink()
    return finished


def answered_ids(path: Path, *, retry_errors: bool) -> set[str]:
    """The ids a rerun on ``path`` would skip (its answer lines, and its error lines unless
    ``retry_errors``), read without changing the file; none when it does not exist."""
    if not path.is_file():
        return set()
    with path.open("rb") as handle:
        records = (_parse_answer_line(line) for line in handle)
        return {
            answer_id(record)
            for record in records
            if record is not None and not (retry_errors and "error" in record)
        }


def answer_id(record: Mapping[str, Any]) -> str:
    """The id of an answer line as the batch compares ids (integers as their text)."""
    return str(record["id"])


def _check_answers_file(path: Path, fingerprint: str | None, simulated: bool | None) -> None:
    """Refuse, before changing anything, a file that is not this architecture's answers.

    Only the last line may be unreadable (a write cut off by a kill); any other line that is
    not an answer line means the file is something else.
    """
    with path.open("rb") as handle:
        previous: tuple[int, bytes] | None = None
        for number, line in enumerate(handle, start=1):
            if previous is not None:
                _check_answer_line(path, *previous, fingerprint, simulated)
            previous = (number, line)
        if previous is not None and previous[1].endswith(b"\n"):
            _check_answer_line(path, *previous, fingerprint, simulated)


def _check_answer_line(
    path: Path, number: int, line: bytes, fingerprint: str | None, simulated: bool | None
) -> None:
    record = _parse_answer_line(line)
    if record is None or not ("answer" in record or "error" in record):
        raise InvalidInputError(
            f"{path}, line {number}: not an answer line of archon-async; the output file "
            "is something else (the input?) and is left untouched: give another --output"
        )
    _check_fingerprint(record, fingerprint, path, number)
    _check_simulated(record, simulated, path, number)


def _check_simulated(
    record: Mapping[str, Any], simulated: bool | None, path: Path, number: int
) -> None:
    found = record.get("simulated")
    if simulated is None or not isinstance(found, bool) or found == simulated:
        return
    if found:
        why = (
            "these lines are simulated (written with --simulate: no model was called) and "
            "this run is real"
        )
    else:
        why = "these lines are real model answers and this run is simulated"
    raise InvalidInputError(
        f"{path}, line {number}: {why}; simulated and real answers are never mixed in one "
        "file, so nothing was resumed: give another --output, or delete the file to start over"
    )


def _check_fingerprint(
    record: Mapping[str, Any], fingerprint: str | None, path: Path, number: int
) -> None:
    found = record.get("fingerprint")
    if fingerprint is None or found is None or found == fingerprint:
        return
    # A fingerprint is the architecture's, then "-s" and the engine's seed (run_batch).
    theirs, _, their_seed = str(found).rpartition("-s")
    ours, _, our_seed = fingerprint.rpartition("-s")
    if theirs == ours:  # the same architecture: only the seed differs
        raise InvalidInputError(
            f"{path}, line {number}: these answers come from the same architecture run with "
            f"another seed ({their_seed}; this run's is {our_seed}): give that seed (--seed) "
            "to resume them, or another --output, or delete the file to start over"
        )
    raise InvalidInputError(
        f"{path}, line {number}: these answers come from another architecture "
        f"({record.get('architecture', '?')!s}, fingerprint {found}; this one is "
        f"{fingerprint}); give another --output, or delete the file to start over"
    )


def _parse_answer_line(line: bytes) -> dict[str, Any] | None:
    if not line.endswith(b"\n"):
        return None  # cut off mid-write
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    raw_id = record.get("id")
    if not isinstance(raw_id, str | int) or isinstance(raw_id, bool):
        return None
    return record


class AnswerWriter:
    """Appends one JSON line per finished prompt; a kill loses no answered prompt.

    The lines written in one loop turn are flushed together at the start of the next turn,
    before the loop waits for anything: one write to the file for all of them (at L = 0 a
    turn ends about four prompts, bench measure 3) instead of one a line, and never a line
    held past the turn after its own. A kill in between loses only what a kill at the same
    moment always lost, the prompts whose replies were still being handled: the rerun asks
    them again. Used inside a running event loop.

    Args:
        path: the answers file, or an open text stream (standard output: not closed here).
    """

    def __init__(self, path: Path | TextIO) -> None:
        self._path = path
        self._handle: TextIO | None = None  # a stream given (standard output)
        self._bytes: BinaryIO | None = None  # a file of ours, written as bytes
        self._flush_due: asyncio.Handle | None = None  # the next turn's flush, while one waits

    def __enter__(self) -> AnswerWriter:
        if isinstance(self._path, Path):
            self._bytes = self._path.open("ab")
        else:
            self._handle = self._path
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.flush()
        if self._bytes is not None:
            self._bytes.close()
        self._handle = self._bytes = None

    def write(self, record: Mapping[str, Any]) -> None:
        """Write one answer line, flushed with the turn's others (one small write: not
        worth a thread hop)."""
        line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        if self._bytes is not None:
            self._bytes.write(line)  # a file of ours: the bytes as they are, no decoding
        else:
            assert self._handle is not None, "AnswerWriter used outside its with block"
            self._handle.write(line.decode())
        if self._flush_due is None:
            self._flush_due = asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Flush the lines written so far, now."""
        if self._flush_due is not None:
            self._flush_due.cancel()  # done now (or this is it)
            self._flush_due = None
        stream = self._bytes if self._bytes is not None else self._handle
        if stream is not None:
            stream.flush()
