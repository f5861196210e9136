"""What a whole-prompt answer memo could save a fully cached rerun, at most (issue 12).

    .venv/bin/python bench/memo_ceiling.py capture MEMO -- batch --input P --cache C ...
    .venv/bin/python bench/memo_ceiling.py replay MEMO -- batch --input P --cache C ...
    .venv/bin/python bench/memo_ceiling.py replay-no-read-ahead MEMO -- batch ...

Runs ``archon-async`` (everything after ``--``) in this process with the batch's
`answer_item` wrapped. ``capture`` runs every prompt as the command does (on a filled cache:
the per-call cached path, each of its requests a cache hit) and pickles each prompt's answer
and call records into MEMO at exit. ``replay`` answers each prompt from MEMO instead: its
records added to the batch's counters and budget as `answer_item` adds them, its line built
by the same `_ended`, no layer, component, request key or cache lookup run. That is the
least CPU a memo of whole prompts kept beside the request cache could take, before its own
lookup and checks (the memo holds no validation: a prototype to measure, not to use).
``replay-no-read-ahead`` also leaves out the request cache's read-ahead (a memo whose
checks need no response rows).

Compare them process by process with ``bench/alternate_cpu.py`` (its ``--remove`` deletes
the output between runs, so that each run answers every prompt): the per-call rerun's CPU
less the replay's is the share of the layer machinery.
"""

from __future__ import annotations

import atexit
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import archon_async._batch as batch
from archon_async import _batch_answer
from archon_async.callpath._cache import ResponseCache
from archon_async.cli import main

Memo = dict[str, tuple[str, list[Any]]]


def capture(path: Path) -> None:
    """Wrap `answer_item` so that every answered prompt's answer and records go to ``path``."""
    original = _batch_answer.answer_item
    memo: Memo = {}

    async def answer_item(engine: Any, item: Any, **options: Any) -> dict[str, Any]:
        line = await original(engine, item, **options)
        if "answer" in line and not item.turns:
            memo[item.id] = (line["answer"], list(options["calls"]))
        return line

    def save() -> None:
        with path.open("wb") as out:
            pickle.dump(memo, out)

    batch.answer_item = answer_item  # type: ignore[attr-defined]  # what the workers call
    atexit.register(save)


def replay(path: Path) -> None:
    """Wrap `answer_item` so that every prompt is answered from the memo at ``path``."""
    with path.open("rb") as file:
        memo: Memo = pickle.load(file)

    async def answer_item(engine: Any, item: Any, **options: Any) -> dict[str, Any]:
        started = time.perf_counter()
        answer, records = memo[item.id]
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
    if separator != "--" or mode not in ("capture", "replay", "replay-no-read-ahead"):
        raise SystemExit(__doc__)
    if mode == "capture":
        capture(Path(memo_path))
    else:
        replay(Path(memo_path))
    if mode == "replay-no-read-ahead":
        ResponseCache._read_ahead_now = lambda self: 0  # type: ignore[method-assign]
    sys.exit(main(command))
