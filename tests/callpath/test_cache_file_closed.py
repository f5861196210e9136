"""A closed cache is one file: every connection closed (reader and writer), the write-ahead
log checkpointed into it, no -wal or -shm left beside it, and its entries all readable from
the file alone (read-only, ignoring any log)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from archon_async import Engine
from tests.conftest import run_cli

_ARCH = {
    "name": "closed",
    "layers": [[{"type": "generator", "model": "m", "model_type": "OpenAI_API", "samples": 4}]],
}


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _entries_of_the_file_alone(path: Path) -> int:
    # immutable=1: SQLite reads the main file only, never a -wal beside it.
    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        count: int = db.execute("SELECT count(*) FROM responses").fetchone()[0]
    finally:
        db.close()
    return count


async def test_closing_an_engine_leaves_the_cache_file_alone_and_whole(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    async with Engine(_ARCH, simulate=True, cache=path) as engine:
        for prompt in ("a", "b", "c"):
            await engine.generate(prompt)
    assert _files(tmp_path) == ["cache.sqlite"]
    assert _entries_of_the_file_alone(path) == 3 * 4
    # Reopened, it answers from the file as before, and closes to one file again.
    async with Engine(_ARCH, simulate=True, cache=path) as engine:
        again = await engine.generate("a")
    assert again.trace.cache_hits == 4 and again.trace.call_count == 0
    assert _files(tmp_path) == ["cache.sqlite"]


def test_after_a_cli_run_only_the_cache_file_remains(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    done = run_cli("run", "--cache", str(path), "What is 2 + 2?", env_without_keys=True)
    assert done.returncode == 0, done.stderr
    assert _files(tmp_path) == ["cache.sqlite"]
    assert _entries_of_the_file_alone(path) == 12  # 10 samples, a ranker's, a fuser's
