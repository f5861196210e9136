"""The sandbox attacks again, from an ordinary user's scoring process (uid 65534).

Run as root (as CI does), this test starts pytest on test_sandbox_attacks.py under
``setpriv --reuid=65534``, with an interpreter and packages that user can read, so that each
attack is checked for an unprivileged caller too (user namespaces instead of root's setuid).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534


def _as_nobody(setpriv: str) -> list[str]:
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]


def _environment() -> dict[str, str]:
    paths = sysconfig.get_paths()
    python_path = os.pathsep.join(dict.fromkeys([str(ROOT), paths["purelib"], paths["platlib"]]))
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "PYTHONPATH": python_path}


def _interpreter(setpriv: str) -> tuple[str | None, str]:
    """An interpreter of this Python version that uid 65534 can run with our packages."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable, getattr(sys, "_base_executable", ""), f"/usr/bin/python{version}"]
    # The sandbox shows the interpreter's installation: that user must be able to read it.
    check = f"import os, sys; assert sys.version_info[:2] == {sys.version_info[:2]!r}; "
    check += "assert os.access(os.path.realpath(sys.executable), os.R_OK); "
    check += "assert all(os.access(p, os.R_OK | os.X_OK) for p in (sys.prefix, sys.base_prefix))"
    check += "; import archon_async.benchmarks, pytest, pytest_asyncio"
    reasons = []
    for candidate in dict.fromkeys(filter(None, candidates)):
        done = subprocess.run(
            [*_as_nobody(setpriv), candidate, "-c", check],
            capture_output=True,
            text=True,
            env=_environment(),
            cwd="/",
            check=False,
            timeout=120,
        )
        if done.returncode == 0:
            return candidate, ""
        reasons.append(f"{candidate}: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return None, "; ".join(reasons)


def test_every_attack_fails_for_an_unprivileged_caller_too() -> None:
    if os.geteuid() != 0:
        pytest.skip("this run is already unprivileged: test_sandbox_attacks.py covered it")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is missing: cannot switch to an ordinary user")
    python, why = _interpreter(setpriv)
    if python is None:
        pytest.skip(f"uid {NOBODY} cannot run this Python with the project's packages: {why}")
    base = tempfile.mkdtemp(prefix="archon-nobody-")
    try:
        os.chmod(base, 0o777)
        command = [python, "-m", "pytest", "-p", "no:cacheprovider", "--basetemp", base + "/t"]
        command += ["-rs", "tests/benchmarks/test_sandbox_attacks.py"]
        done = subprocess.run(
            [*_as_nobody(setpriv), *command],
            capture_output=True,
            text=True,
            env=_environment(),
            cwd=ROOT,
            check=False,
            timeout=900,
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in summary and "skipped" not in summary and "failed" not in summary, summary
