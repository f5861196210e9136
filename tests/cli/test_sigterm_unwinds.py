"""SIGTERM unwinds a running command as Ctrl-C does: the main task is cancelled, every task
group unwinds, and the user reads one line, not the traceback of whichever task the signal
happened to interrupt ("unhandled exception during asyncio.run() shutdown"), nor a warning
about a coroutine that the interrupted frame had created and not yet made a task."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from tests.conftest import ROOT


def _as_in_a_terminal() -> None:
    # In a terminal SIGINT is the default, and asyncio.run then handles it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _as_a_background_job() -> None:
    # A script's background job starts with SIGINT ignored: asyncio.run installs no handler
    # then, and SIGTERM used to raise KeyboardInterrupt in whatever frame was running
    # (tracebacks and "coroutine 'gather.<locals>.run' was never awaited" in 4 of 5 tries).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("started", [_as_in_a_terminal, _as_a_background_job])
def test_sigterm_in_a_batch_prints_no_traceback(
    tmp_path: Path, started: Callable[[], None]
) -> None:
    prompts = tmp_path / "in.jsonl"
    prompts.write_text(
        "".join(
            orjson.dumps({"id": i, "prompt": f"Question {i}?"}).decode() + "\n" for i in range(200)
        )
    )
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "archon_async.cli", "batch", "--input", str(prompts)]
    command += ["--output", str(out), "--simulate", "--concurrency", "16"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=started,
        env=os.environ | {"PYTHONWARNINGS": "always::RuntimeWarning"},
    )
    deadline = time.monotonic() + 90
    while (not out.exists() or not out.read_bytes()) and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr and "unhandled exception" not in stderr, stderr
    assert "never awaited" not in stderr and "Task was destroyed" not in stderr, stderr
    assert '"stopped": "terminated"' in stderr  # the summary, as for Ctrl-C
