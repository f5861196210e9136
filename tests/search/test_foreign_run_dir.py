"""A run directory that holds another search is refused in one clear sentence (issue 13,
a new user's ``--estimate`` on it): the directory named once, as given, what differs, and
what to do for each search, in the command line's words there and Python's here."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_async import ConfigError
from archon_async.search import Search
from tests.cli_process import run_cli
from tests.search._spaces import oracle_run, small_space, write


def _foreign(tmp_path: Path) -> tuple[Path, Path]:
    """A run directory holding a search of one file, and another file."""
    run_dir = tmp_path / "runs" / "first"
    oracle_run(write(tmp_path, small_space(evaluations=3)), run_dir)
    other = small_space(evaluations=3) | {"maximum_inference_calls": 10}
    return run_dir, write(tmp_path, other, name="other.json")


def test_the_command_line_names_the_directory_once(tmp_path: Path) -> None:
    run_dir, other = _foreign(tmp_path)
    for extra in (["--estimate"], []):
        done = run_cli(
            "search", str(other), "--simulate", "--oracle", "--run-dir", str(run_dir), *extra
        )
        assert done.returncode == 1 and not done.stdout
        said = done.stderr.strip()
        assert said.count(str(run_dir)) == 1 and "search.json" not in said, said
        assert said == (
            f"archon-async: the run directory {run_dir} holds another search: "
            "maximum_inference_calls is 12 there, 10 here; resume that one with its own "
            "search file and options, or give this one another --run-dir (a search "
            "resumes with other evaluations, Archon's iteration counts or budget)"
        )


def test_python_is_told_its_argument(tmp_path: Path) -> None:
    run_dir, other = _foreign(tmp_path)
    with pytest.raises(ConfigError) as raised:
        Search(other, simulate=True, oracle=True, run_dir=run_dir).estimate()
    message = str(raised.value)
    assert message.count(str(run_dir)) == 1 and "another run_dir" in message
    assert "--run-dir" not in message
