"""`archon-async validate` checks a search file as the search reads it (found by this
stop's new user, issue 13): it read one as an architecture, refusing Archon's own example
search file for its missing 'layers' and calling every search key unknown."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_async.cli import main
from archon_async.search import EXAMPLE_SEARCH_CONFIG
from tests.search._spaces import small_space, write


def test_validate_reads_search_files_as_searches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = write(tmp_path, small_space() | {"random_search_iteration": 3}, "typo.json")
    assert main(["validate", str(EXAMPLE_SEARCH_CONFIG), str(typo), "default"]) == 0
    out = capsys.readouterr().out
    assert f"ok {EXAMPLE_SEARCH_CONFIG}: a search file (arena_hard_auto, 2 models)" in out
    assert f"ok {typo}: a search file (gsm8k, 4 models)" in out
    assert "unknown search key 'random_search_iteration'" in out and "'layers'" not in out
    assert "ok default: generatorx5+generatorx5 -> rankerx1 -> fuserx1" in out


def test_validate_reports_a_bad_search_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path, small_space() | {"maximum_inference_calls": -5})
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"error {bad}, maximum_inference_calls: must be a whole number of at least 1" in err
