"""The base install (no extra) runs the README's first job: every optional library is
blocked, as in a venv made with ``pip install archon-async``, and a simulated run answers."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

EXTRAS_ONLY = [
    "numpy", "optuna", "scipy", "starlette", "uvicorn", "redis", "pyarrow", "openai",
    "anthropic", "torch",
]  # fmt: skip

_SCRIPT = f"""
import sys
for name in {EXTRAS_ONLY!r}:
    sys.modules[name] = None  # an import of it fails, as when it is not installed
from archon_async.cli import main
sys.exit(main(["run", "What is 2 + 2?"]))
"""


def test_a_simulated_run_needs_no_extra() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() and "12 calls" in done.stderr
