"""SIGTERM unwinds a running command as Ctrl-C does: the main task is cancelled, every task
group unwinds, and the user reads one line, not the traceback of whichever task the signal
happened to interrupt ("unhandled exception during asyncio.run() shutdown"), nor a warning
about a coroutine that the interrupted frame had created and not yet made a task."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from tests.cli_process import cli_env, expect_status, start_cli


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
    args = ["batch", "--input", str(prompts), "--output", str(out), "--simulate"]
    args += ["--concurrency", "16"]
    env = cli_env(PYTHONWARNINGS="always::RuntimeWarning")
    with start_cli(*args, logs=tmp_path / "logs", env=env, preexec_fn=started) as child:
        child.wait_until(lambda: out.exists() and bool(out.read_bytes()), timeout=90)
        stderr = expect_status(child.kill(signal.SIGTERM), 143).stderr
    assert "Traceback" not in stderr and "unhandled exception" not in stderr, stderr
    assert "never awaited" not in stderr and "Task was destroyed" not in stderr, stderr
    assert '"stopped": "terminated"' in stderr  # the summary, as for Ctrl-C
