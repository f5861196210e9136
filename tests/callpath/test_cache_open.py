"""Several connections opening one new cache file at once: they queue, none fails."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from archon_async import ResponseCache
from archon_async._exceptions import ConfigError
from archon_async._types import ChatResponse, Usage


def test_a_new_cache_file_opens_while_another_connection_writes_to_it(tmp_path: Path) -> None:
    # A new file is in rollback mode until the first opener turns WAL on; SQLite answers
    # that change "database is locked" at once, busy timeout or not, while another
    # connection holds a lock on the file: the opener must wait for it instead.
    path = tmp_path / "new.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    opened: list[ResponseCache] = []
    failed: list[ConfigError] = []

    def open_cache() -> None:
        try:
            opened.append(ResponseCache(path))
        except ConfigError as exc:
            failed.append(exc)

    opener = threading.Thread(target=open_cache)
    opener.start()
    opener.join(timeout=0.5)  # time to meet the lock (without the wait it fails at once)
    holder.execute("COMMIT")
    holder.close()
    opener.join(timeout=60)
    assert failed == []
    cache = opened[0]
    cache.put(b"k" * 16, 0, ChatResponse(text="kept", usage=Usage(1, 1), model="m"))
    cache.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    check.close()
    assert ResponseCache(path).get(b"k" * 16, 0) == ChatResponse("kept", Usage(1, 1), "m")


_OPENER = """
import sys, time
from archon_async import ResponseCache
from archon_async._types import ChatResponse, Usage
path, start, me = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
time.sleep(max(0.0, start - time.time()))  # all open the new file at the same moment
cache = ResponseCache(path)
for key in range(20):
    cache.put(bytes([key]) * 16, me, ChatResponse(f"{key} {me}", Usage(1, 1), "m"))
cache.close()
"""


def test_processes_opening_one_new_cache_file_at_once_all_write_it(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    start = time.time() + 3.0  # after every process has imported the library
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, str(path), str(start), str(me)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for me in range(8)
    ]
    errors = [child.communicate(timeout=120)[1] for child in children]
    assert [child.returncode for child in children] == [0] * 8, errors
    cache = ResponseCache(path)
    for key in range(20):
        replies = cache.get_many(bytes([key]) * 16, 0, 8)
        assert [r.text if r else None for r in replies] == [f"{key} {me}" for me in range(8)]
    cache.close()
