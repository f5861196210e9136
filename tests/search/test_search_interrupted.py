"""Ctrl-C on a running ``archon-async search`` says how to go on: the same command again,
the run directory keeps what was done (as a stopped batch prints its resume command)."""

from __future__ import annotations

import shlex
import signal
import sys
from functools import partial
from pathlib import Path

from tests.cli_process import CLI_MODULE, expect_status, start_cli
from tests.search._spaces import small_space, write


def test_ctrl_c_on_a_search_prints_the_command_that_resumes_it(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(evaluations=40, parallel=1, dev_questions=30))
    run_dir = tmp_path / "run"
    args = ["search", str(path), "--simulate", "--seed", "2", "--run-dir", str(run_dir)]
    board = run_dir / "leaderboard.jsonl"
    # Ctrl-C as in a terminal: a background job (CI under nohup or `&`) passes SIGINT on
    # ignored.
    as_in_a_terminal = partial(signal.signal, signal.SIGINT, signal.SIG_DFL)
    with start_cli(*args, logs=tmp_path / "logs", preexec_fn=as_in_a_terminal) as child:
        child.wait_until(lambda: board.exists() and len(board.read_bytes().splitlines()) >= 1)
        interrupted = expect_status(child.kill(signal.SIGINT), 130)
    said = interrupted.stderr
    again = shlex.join([sys.executable, "-m", CLI_MODULE, *args])
    assert f"the run directory {run_dir} keeps what was done" in said, said
    assert f"to resume, run the same command again: {again}]" in said, said
    assert said.rstrip().endswith("archon-async: interrupted"), said
    assert "Traceback" not in said
