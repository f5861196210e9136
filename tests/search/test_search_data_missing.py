"""A `--data` path that is not there is refused by every search, the oracle's included (it
reads no question, so the path was ignored without a word; found by stop 26's attacker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_async import ConfigError
from archon_async.search import Search
from tests.search._spaces import small_space, write

SAYS = r"--data \(Search\(data=\.\.\.\)\): .*missing.jsonl: no such file"


@pytest.mark.parametrize("mode", [{"oracle": True}, {"oracle": True, "sampled": True}, {}])
def test_a_data_path_that_is_not_there_is_refused(tmp_path: Path, mode: dict[str, bool]) -> None:
    space = write(tmp_path, small_space(evaluations=3))
    missing = tmp_path / "missing.jsonl"
    with pytest.raises(ConfigError, match=SAYS):
        Search(space, simulate=True, data=missing, run_dir=tmp_path / "r", **mode)
    assert not (tmp_path / "r").exists()
