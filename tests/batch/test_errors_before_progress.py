"""Errors met while opening a batch (a missing key, an unreachable Redis, a summary path that
cannot be written) are said before any progress line: the user reads the error alone, not a
"0/3 done" line that suggests the batch ran."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import orjson
import pytest

from archon_async import ConfigError, Engine
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from tests.conftest import run_cli


def _prompts(path: Path, count: int = 3) -> Path:
    path.write_text(
        "".join(orjson.dumps({"id": i, "prompt": f"Q {i}?"}).decode() + "\n" for i in range(count))
    )
    return path


def _closed_port() -> int:
    with socket.socket() as probe:  # bound, then closed: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _no_progress_before_error(stderr: str, error: str) -> None:
    assert error in stderr, stderr
    before = stderr[: stderr.index(error)]
    assert "progress" not in before and "done" not in before, stderr


def test_a_missing_key_is_said_before_any_progress_line(tmp_path: Path) -> None:
    done = run_cli(
        "batch",
        "default",
        "--input",
        str(_prompts(tmp_path / "in.jsonl")),
        "--output",
        str(tmp_path / "out.jsonl"),
        env_without_keys=True,
    )
    assert done.returncode != 0
    _no_progress_before_error(done.stderr, "needs an API key")
    assert "progress" not in done.stderr


def test_an_unreachable_redis_is_said_before_any_progress_line(tmp_path: Path) -> None:
    done = run_cli(
        "batch",
        "--input",
        str(_prompts(tmp_path / "in.jsonl")),
        "--output",
        str(tmp_path / "out.jsonl"),
        "--shared-limits",
        f"redis://127.0.0.1:{_closed_port()}/0",
    )
    assert done.returncode != 0
    _no_progress_before_error(done.stderr, "cannot be reached")
    assert "progress" not in done.stderr


@pytest.mark.parametrize("where", ["folder", "missing/summary.json"])
def test_a_summary_path_that_cannot_be_written_is_refused_before_any_call(
    tmp_path: Path, where: str
) -> None:
    (tmp_path / "folder").mkdir()
    done = run_cli(
        "batch",
        "--input",
        str(_prompts(tmp_path / "in.jsonl")),
        "--output",
        str(tmp_path / "out.jsonl"),
        "--summary",
        str(tmp_path / where),
    )
    assert done.returncode == 2, done.stderr
    _no_progress_before_error(done.stderr, "--summary")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out.jsonl").exists()  # nothing was run


async def test_run_batch_shows_no_progress_when_opening_fails(tmp_path: Path) -> None:
    spec = {"type": "generator", "model": "gpt-4o-mini", "model_type": "OpenAI_API"}
    engine = Engine({"name": "a", "layers": [[spec]]}, keys={})
    progress = io.StringIO()
    with pytest.raises(ConfigError, match="needs an API key"):
        await run_batch(
            engine,
            [BatchItem(id="q", messages=[{"role": "user", "content": "hi"}])],
            tmp_path / "out.jsonl",
            total=1,
            progress=progress,
            progress_interval_s=0.01,
        )
    assert progress.getvalue() == ""
