"""SIGTERM unwinds a running command as Ctrl-C does: the main task is cancelled, every task
group unwinds, and the user reads one line, not the traceback of whichever task the signal
happened to interrupt ("unhandled exception during asyncio.run() shutdown")."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from tests.conftest import ROOT


def _as_in_a_terminal() -> None:
    # A shell's background job starts with SIGINT ignored; in a terminal it is the default,
    # and asyncio.run then handles it (what a SIGTERM is passed on to).
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_sigterm_in_a_batch_prints_no_traceback(tmp_path: Path) -> None:
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
        preexec_fn=_as_in_a_terminal,
    )
    deadline = time.monotonic() + 90
    while (not out.exists() or not out.read_bytes()) and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr and "unhandled exception" not in stderr, stderr
    assert '"stopped": "terminated"' in stderr  # the summary, as for Ctrl-C
