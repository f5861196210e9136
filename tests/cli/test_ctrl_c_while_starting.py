"""Ctrl-C while ``archon-async batch`` starts (its imports, opening the engine) or runs: one
line saying it was interrupted and exit status 130, never a Python traceback of whichever
library was being imported.

Each run is a real process sent SIGINT. The delays count from the moment the package's
own code has started (Python's import-time report names its first module): before that,
the interpreter is still starting (its ``site``), and a Ctrl-C there is Python's alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.conftest import ROOT

_SCRIPT = Path(sys.executable).with_name("archon-async")


def _command(how: str) -> list[str]:
    if how == "script":
        if not _SCRIPT.exists():
            pytest.skip(f"no {_SCRIPT.name} script beside {sys.executable} (not pip-installed)")
        return [str(_SCRIPT)]
    return [sys.executable, "-m", "archon_async.cli"]


def _interrupted(command: list[str], delay_s: float) -> tuple[int, str]:
    """The exit status and standard error of ``command`` sent SIGINT ``delay_s`` after
    its first module of archon_async was imported."""
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as in a terminal, whatever the tests were started with (a background job
        # passes SIGINT on ignored).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        env=os.environ | {"PYTHONPROFILEIMPORTTIME": "1"},
    )
    assert process.stderr is not None
    seen = []
    for line in process.stderr:  # one line a module, as each import ends
        seen.append(line)
        module = line.rsplit("|", 1)[-1].strip()
        if line.startswith("import time:") and module.startswith("archon_async."):
            break
    time.sleep(delay_s)
    process.send_signal(signal.SIGINT)
    rest = process.communicate(timeout=120)[1]
    said = "".join(seen) + rest
    return process.returncode, "".join(
        line for line in said.splitlines(keepends=True) if not line.startswith("import time:")
    )


@pytest.mark.parametrize(
    ("how", "delays"),
    [("script", (0.0, 0.05, 0.1, 0.2, 0.35, 0.5)), ("module", (0.0, 0.1, 0.3))],
)
def test_ctrl_c_while_a_batch_starts_says_interrupted_and_exits_130(
    tmp_path: Path, how: str, delays: tuple[float, ...]
) -> None:
    prompts = tmp_path / "in.jsonl"
    # Enough prompts that the batch is still running when the signal comes: the delays
    # count from when this process reads the import line, which a loaded machine can make
    # seconds after the command wrote it (400 prompts, ~1 s, ended first under load:
    # exit status -2, a SIGINT after main() had returned).
    lines = (orjson.dumps({"id": i, "prompt": f"Question {i}?"}) for i in range(20_000))
    prompts.write_bytes(b"".join(line + b"\n" for line in lines))
    for delay in delays:
        out = tmp_path / f"out-{delay}.jsonl"
        command = [*_command(how), "batch", "--input", str(prompts), "--output", str(out)]
        command += ["--simulate", "--concurrency", "4"]
        status, stderr = _interrupted(command, delay)
        assert status == 130, (delay, stderr[-3000:])
        assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, (delay, stderr)
        assert "interrupted" in stderr, (delay, stderr)
        if "{" not in stderr:  # stopped before the batch began: one line, nothing more
            assert stderr == "archon-async: interrupted\n", (delay, stderr)
