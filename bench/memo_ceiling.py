"""What a whole-prompt answer memo could save a fully cached rerun, at most (issue 12).

    .venv/bin/python bench/memo_ceiling.py capture MEMO -- batch --input P --cache C ...
    .venv/bin/python bench/memo_ceiling.py replay MEMO -- batch --input P --cache C ...
    .venv/bin/python bench/memo_ceiling.py replay-no-read-ahead MEMO -- batch ...
    .venv/bin/python bench/memo_ceiling.py replay-checked MEMO -- batch ...

Runs ``archon-async`` (everything after ``--``) in this process with the batch's
`answer_item` wrapped. ``capture`` runs every prompt as the command does (on a filled cache:
the per-call cached path, each of its requests a cache hit) and pickles each prompt's answer
and call records into MEMO at exit. ``replay`` answers each prompt from MEMO instead: its
records added to the batch's counters and budget as `answer_item` adds them, its line built
by the same `_ended`, no layer, component, request key or cache lookup run. That is the
least CPU a memo of whole prompts kept beside the request cache could take, before its own
lookup and checks (the memo holds no validation: a prototype to measure, not to use).
``replay-no-read-ahead`` also leaves out the request cache's read-ahead (a memo whose
checks need no response rows). ``replay-checked`` adds what a real memo's lookup would do
for each prompt: its key (a digest of the package version, the architecture's canonical
JSON, the engine's seed, the draw and the messages) and, for each request-cache entry the
captured run read, a check that the read-ahead still holds it with the same reply text (a
digest of it): about the least a memo that is never wrong would pay.

Compare them process by process with ``bench/alternate_cpu.py`` (its ``--remove`` deletes
the output between runs, so that each run answers every prompt): the per-call rerun's CPU
less the replay's is the share of the layer machinery.
"""

from __future__ import annotations

import atexit
import contextvars
import hashlib
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import orjson

import archon_async
import archon_async._batch as batch
from archon_async import _batch_answer
from archon_async.callpath._cache import ResponseCache
from archon_async.cli import main

#: A prompt's (answer, call records, entries read: (request key, sample, digest of its text)).
Entry = tuple[str, list[Any], list[tuple[bytes, int, bytes]]]
#: By the prompt's id (``replay``) and by its memo key (``replay-checked``).
Memo = tuple[dict[str, Entry], dict[bytes, Entry]]

#: The request-cache entries the current prompt read (set by `capture` for each prompt).
_reads: contextvars.ContextVar[list[tuple[bytes, int]] | None] = contextvars.ContextVar(
    "reads", default=None
)
_architectures: dict[int, bytes] = {}  # an engine's architecture as canonical JSON, once


def memo_key(engine: Any, item: Any) -> bytes:
    """What decides a prompt's answer besides the cache's entries, as one digest."""
    architecture = _architectures.get(id(engine))
    if architecture is None:
        architecture = orjson.dumps(engine.architecture.to_dict(), option=orjson.OPT_SORT_KEYS)
        _architectures[id(engine)] = architecture
    material = [archon_async.__version__, engine.seed, item.draw, list(item.messages)]
    return hashlib.blake2b(architecture + orjson.dumps(material), digest_size=16).digest()


def _text_digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=8).digest()


def _record_reads() -> None:
    """Wrap the request cache's two lookups so that each notes the entries it read."""
    get, lookup = ResponseCache.get, ResponseCache.lookup

    def noted_get(self: ResponseCache, key: bytes, sample: int) -> Any:
        reads = _reads.get()
        if reads is not None:
            reads.append((key, sample))
        return get(self, key, sample)

    def noted_lookup(self: ResponseCache, key: bytes, first: int, count: int) -> Any:
        reads = _reads.get()
        if reads is not None:
            reads.extend((key, sample) for sample in range(first, first + count))
        return lookup(self, key, first, count)

    ResponseCache.get = noted_get  # type: ignore[method-assign]
    ResponseCache.lookup = noted_lookup  # type: ignore[method-assign]


def capture(path: Path) -> None:
    """Wrap `answer_item` so that every answered prompt's answer and records go to ``path``."""
    original = _batch_answer.answer_item
    memo: Memo = ({}, {})
    _record_reads()

    async def answer_item(engine: Any, item: Any, **options: Any) -> dict[str, Any]:
        reads: list[tuple[bytes, int]] = []
        token = _reads.set(reads)
        try:
            line = await original(engine, item, **options)
        finally:
            _reads.reset(token)
        if "answer" in line and not item.turns:
            ahead = engine.callpath.cache._ahead
            read = [(k, j, _text_digest(ahead[k][j][0])) for k, j in reads]
            entry = (line["answer"], list(options["calls"]), read)
            memo[0][item.id] = memo[1][memo_key(engine, item)] = entry
        return line

    def save() -> None:
        with path.open("wb") as out:
            pickle.dump(memo, out)

    batch.answer_item = answer_item  # type: ignore[attr-defined]  # what the workers call
    atexit.register(save)


def replay(path: Path, *, checked: bool = False) -> None:
    """Wrap `answer_item` so that every prompt is answered from the memo at ``path``
    (``checked``: found by its memo key, each entry it read checked in the read-ahead).

    Raises:
        SystemExit: a prompt's memo is missing or stale (``checked``).
    """
    with path.open("rb") as file:
        by_id, by_key = pickle.load(file)

    async def answer_item(engine: Any, item: Any, **options: Any) -> dict[str, Any]:
        started = time.perf_counter()
        if not checked:
            answer, records, _ = by_id[item.id]
        else:
            entry = by_key.get(memo_key(engine, item))
            ahead = engine.callpath.cache._ahead
            if entry is None or not all(
                (samples := ahead.get(key)) is not None
                and (row := samples.get(sample)) is not None
                and _text_digest(row[0]) == digest
                for key, sample, digest in entry[2]
            ):
                raise SystemExit(f"{item.id}: no memo, or a stale one")
            answer, records, _ = entry
        calls, stats, budget = options["calls"], options.get("stats"), options.get("budget")
        calls.extend(records)
        if stats is not None:
            stats.add_calls(records)
        if budget is not None:
            budget.charge_all(records)
        line = {"id": item.output_id, "answer": answer}
        return _batch_answer._ended(line, item, calls, started, 1)

    batch.answer_item = answer_item  # type: ignore[attr-defined]  # what the workers call


if __name__ == "__main__":
    mode, memo_path, separator, *command = sys.argv[1:]
    modes = ("capture", "replay", "replay-no-read-ahead", "replay-checked")
    if separator != "--" or mode not in modes:
        raise SystemExit(__doc__)
    if mode == "capture":
        capture(Path(memo_path))
    else:
        replay(Path(memo_path), checked=mode == "replay-checked")
    if mode == "replay-no-read-ahead":
        ResponseCache._read_ahead_now = lambda self: 0  # type: ignore[method-assign]
    sys.exit(main(command))
