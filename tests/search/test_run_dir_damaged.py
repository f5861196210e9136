"""A run directory's file that is no longer JSON (cut by a full disk, changed in an
editor) stops the search's rerun, and its estimate, with the file named and what to do
(found by this stop's attacker, issue 13's resume): it was orjson's JSONDecodeError
traceback. A search writes these files whole, so a kill never leaves them cut."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from archon_async import ConfigError
from archon_async.search import Search
from tests.search._spaces import small_space, write


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("finished")
    space = write(folder, small_space(evaluations=3))
    import anyio

    anyio.run(Search(space, simulate=True, oracle=True, run_dir=folder / "run").run)
    return space, folder / "run"


@pytest.mark.parametrize("name", ["search.json", "ranking.json", "spent.json"])
async def test_a_damaged_run_file_is_named(
    tmp_path: Path, finished: tuple[Path, Path], name: str
) -> None:
    space, run_dir = finished
    damaged = tmp_path / "run"
    shutil.copytree(run_dir, damaged)
    (damaged / name).write_bytes(b'{"cut')
    said = f"the run directory's {name} \\({damaged / name}\\) is not valid JSON"
    with pytest.raises(ConfigError, match=said):
        await Search(space, simulate=True, oracle=True, run_dir=damaged).run()
    if name == "search.json":  # the estimate reads it too, as the run would
        with pytest.raises(ConfigError, match=said):
            Search(space, simulate=True, oracle=True, run_dir=damaged).estimate()
