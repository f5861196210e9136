"""One search at a time in a run directory: a second copy of a running search is refused at
once (before any call, its record untouched), from the command line and from Python; a
search killed by SIGKILL leaves no lock that blocks its resume (the kernel drops an
``flock`` with its process)."""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import orjson
import pytest

from archon_async import InvalidInputError
from archon_async._output_lock import output_lock_path
from archon_async.search import Search
from tests.cli_process import expect_status, run_cli, start_cli
from tests.search._spaces import small_space, write


def _lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


def test_a_second_search_in_a_running_search_s_directory_is_refused_at_once(
    tmp_path: Path,
) -> None:
    # One pass of the final ranking's race: its further passes are no part of what is
    # checked here, and would take minutes. The resume's final ranking is of 3 finalists on
    # 20 questions and its report on 5: by default 10 finalists on every question the dev
    # set leaves (1289 of GSM8K's), which took the resume past run_cli's 240 s at load ~30.
    data = small_space(
        finalists=3, evaluations=40, parallel=1, dev_questions=30, held_out_questions=20,
        report_questions=5, racing={"draws": 1},
    )  # fmt: skip
    path = write(tmp_path, data)
    run_dir = tmp_path / "run"
    args = ["search", str(path), "--simulate", "--seed", "1", "--run-dir", str(run_dir)]
    board = run_dir / "leaderboard.jsonl"
    with start_cli(*args, logs=tmp_path / "logs") as first:
        first.wait_until(lambda: _lines(board) >= 1)
        record = (run_dir / "search.json").read_bytes()
        second = expect_status(run_cli(*args), 1)
        said = second.stderr
        assert f"{run_dir}: another search is running in this run directory" in said, said
        assert "--run-dir" in said and "run this search again" in said
        assert "[ranking" not in said and "Traceback" not in said  # no call, no progress
        assert (run_dir / "search.json").read_bytes() == record
        # The same search from Python is refused too, before it yields anything.
        search = Search(path, simulate=True, seed=1, run_dir=run_dir)

        async def first_event() -> None:
            async for _ in search.events():
                pytest.fail("a refused search ran")

        with pytest.raises(InvalidInputError, match="another search is running"):
            anyio.run(first_event)
        assert first.process.poll() is None  # the first one still runs, undisturbed
        first.kill(signal.SIGKILL)
    # Killed with its lock held: the lock file stays, and blocks nothing.
    assert output_lock_path(run_dir / "search.json").exists()
    left = _lines(board)
    # One more evaluation is enough to show it resumed (how far it goes is no part of the
    # search's identity): the whole rest would take a minute.
    done = expect_status(run_cli(*args, "--quiet", "--evaluations", str(left + 1)))
    assert _lines(board) >= left
    assert orjson.loads(done.stdout)["best"]["key"]
    assert not output_lock_path(run_dir / "search.json").exists()  # gone once it ended
