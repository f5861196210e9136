"""Every example of the README works as written: the Python blocks are the files under
examples/ (kept equal to the README here), run as scripts as a user would run them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Served by uvicorn in tests/embedding/test_fastapi_cancel.py, not run as a script.
SERVED = {"fastapi_cancel.py"}
EXAMPLES = sorted(path for path in (ROOT / "examples").glob("*.py") if path.name not in SERVED)
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize(
    ("name", "start"),
    [
        ("quickstart.py", "import asyncio"),
        ("fastapi_cancel.py", "import os"),
        ("extending.py", "import asyncio"),
    ],
)
def test_the_readme_blocks_are_the_example_files(name: str, start: str) -> None:
    code = (ROOT / "examples" / name).read_text(encoding="utf-8")
    assert code[code.index(start) :] in _python_blocks()


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_each_example_runs_without_any_key(example: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    done = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", str(example)],
        cwd=tmp_path,  # not the clone: whatever it loads comes from the package
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert "Unclosed" not in done.stderr
