"""A headless Chromium for the report tests: the DOM it builds from a page, and a
screenshot of it (tests skip where no chromium is installed; .ci/run installs Debian's)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def _browser() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium)")
    return browser


def rendered_dom(page: Path) -> str:
    """The DOM the browser built from ``page`` (not the file's text)."""
    dom = subprocess.run(
        [_browser(), *_FLAGS, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom.stdout


def screenshot(page: Path, shot: Path) -> None:
    """A 1000 x 1400 screenshot of ``page`` into ``shot`` (PNG)."""
    subprocess.run(
        [_browser(), *_FLAGS, f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
