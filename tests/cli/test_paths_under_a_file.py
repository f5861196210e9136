"""An output or run directory whose path runs through a file (``notes.txt/answers.jsonl``)
is refused before any call, naming the file in the way. It was a traceback: batch and
judge's NotADirectoryError (from the spend journal beside the output), engine.batch's and a
search's FileExistsError (mkdir), and ``search --estimate`` printed an estimate of a run
that could not start there."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from archon_async import ConfigError, Engine, InvalidInputError
from archon_async.cli import main
from archon_async.search import Search
from tests.search._spaces import small_space, write


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("not a folder\n")
    return path


def test_batch_and_judge_outputs_under_a_file(
    tmp_path: Path, a_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_bytes(orjson.dumps({"id": "a", "prompt": "What is 2 + 2?"}) + b"\n")
    answers = tmp_path / "mt.jsonl"
    assert main(["batch", "single_model", "--benchmark", "mt_bench", "--sample", "1",
                 "--simulate", "--output", str(answers)]) == 0  # fmt: skip
    capsys.readouterr()
    commands = {
        "batch": ["batch", "single_model", "--input", str(prompts), "--simulate"],
        "judge": ["judge", "--benchmark", "mt_bench", "--answers", str(answers), "--simulate"],
    }
    for command in commands.values():
        output = a_file / "sub" / "out.jsonl"
        status = main([*command, "--output", str(output)])
        err = capsys.readouterr().err
        assert status == 2 and "Traceback" not in err, err
        assert f"--output {output}: {a_file} is a file, not a folder" in err
    assert a_file.read_text() == "not a folder\n"


async def test_engine_batch_output_under_a_file(a_file: Path) -> None:
    async with Engine("single_model", simulate=True) as engine:
        with pytest.raises(InvalidInputError, match=f"{a_file} is a file, not a folder"):
            async for _ in engine.batch([{"id": "a", "prompt": "hi"}], output=a_file / "o"):
                pass


@pytest.mark.parametrize("under", [False, True])
def test_search_run_dir_on_a_file(
    tmp_path: Path, a_file: Path, under: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    space = write(tmp_path, small_space(evaluations=3))
    run_dir = a_file / "run" if under else a_file
    says = f"the run directory {run_dir} cannot be made: {a_file} is a file, not a folder"
    with pytest.raises(ConfigError, match=says):
        Search(space, simulate=True, oracle=True, run_dir=run_dir)
    for extra in ([], ["--estimate"]):
        status = main(["search", str(space), "--simulate", "--run-dir", str(run_dir), *extra])
        err = capsys.readouterr().err
        assert status == 1 and says in err and "Traceback" not in err, err
    assert a_file.read_text() == "not a folder\n"
