"""The command's own process collects young objects less often (a batch keeps each call's
objects alive while in flight); a program that calls the CLI's ``main`` with its own
arguments keeps its collector as it set it."""

from __future__ import annotations

import gc
import subprocess
import sys

from archon_async import cli
from tests.conftest import ROOT

CONFIG = str(ROOT / "configs" / "single_model.json")


def test_the_command_raises_the_young_collection_threshold() -> None:
    program = (
        "import gc, sys\n"
        "from archon_async import cli\n"
        f"sys.argv = ['archon-async', 'validate', {CONFIG!r}]\n"
        "status = cli.main()\n"
        "print('threshold', *gc.get_threshold(), 'status', status)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    young, middle, old = gc.get_threshold()  # this test process's, untouched: Python's own
    expected = f"threshold {cli.YOUNG_COLLECTION_THRESHOLD} {middle} {old} status 0"
    assert expected in done.stdout
    assert cli.YOUNG_COLLECTION_THRESHOLD > young


def test_main_called_with_arguments_leaves_the_callers_collector_alone() -> None:
    before = gc.get_threshold()
    gc.set_threshold(1234, *before[1:])
    try:
        assert cli.main(["validate", CONFIG]) == 0
        assert gc.get_threshold() == (1234, *before[1:])
    finally:
        gc.set_threshold(*before)
