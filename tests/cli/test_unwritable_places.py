"""An output or run directory in a place this process may not write (a folder it cannot
make, or one where the lock file cannot be created) is refused with the place and the
system's reason. It was a traceback (mkdir's FileNotFoundError, PermissionError), or the
lock file that could not be created was read as held: "another run is writing these
answers", which no waiting mends.

``/proc`` is such a place for every user, root included (who may write anywhere else)."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from archon_async import ConfigError, Engine, InvalidInputError
from archon_async.cli import main
from archon_async.search import Search
from tests.search._spaces import small_space, write

pytestmark = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")

#: A folder that cannot be made, and an existing one where no file can be created.
UNMAKEABLE = Path("/proc/archon-async-no-such-folder")
NO_NEW_FILES = Path("/proc/self")


def test_batch_output_in_a_folder_that_cannot_be_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_bytes(orjson.dumps({"id": "a", "prompt": "What is 2 + 2?"}) + b"\n")
    output = UNMAKEABLE / "out.jsonl"
    status = main(["batch", "single_model", "--input", str(prompts), "--simulate",
                   "--output", str(output)])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err, err
    assert f"{output}: the output cannot be written there: {UNMAKEABLE}: " in err, err


async def test_engine_batch_lock_that_cannot_be_made() -> None:
    output = NO_NEW_FILES / "out.jsonl"
    async with Engine("single_model", simulate=True) as engine:
        with pytest.raises(InvalidInputError, match="cannot be made") as caught:
            async for _ in engine.batch([{"id": "a", "prompt": "hi"}], output=output):
                pass
    assert f"its lock file {output}.lock cannot be made" in str(caught.value)
    assert "another run" not in str(caught.value)


@pytest.mark.parametrize("run_dir", [UNMAKEABLE / "run", NO_NEW_FILES])
async def test_search_run_dir_that_cannot_be_written(tmp_path: Path, run_dir: Path) -> None:
    space = write(tmp_path, small_space(evaluations=3))
    search = Search(space, simulate=True, oracle=True, run_dir=run_dir)
    with pytest.raises((ConfigError, InvalidInputError), match="cannot be made") as caught:
        await search.run()
    assert "another search" not in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in a read-only folder")
async def test_engine_batch_in_a_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o500)
    async with Engine("single_model", simulate=True) as engine:
        with pytest.raises(InvalidInputError, match="Permission denied"):
            async for _ in engine.batch([{"id": "a", "prompt": "hi"}], output=folder / "o"):
                pass
