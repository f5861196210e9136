"""A ``--cache`` that is another file of the command is refused before any call, and the
file is left as it was (found by this stop's attacker, issue 12): ``--output a.jsonl
--cache a.jsonl`` wrote SQLite pages into the answers and ended in a "disk I/O error"
traceback; ``--summary`` on the cache overwrote the cache with the summary at the end;
the output's spend journal as the cache failed with "no such table"."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from archon_async.cli import main


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(orjson.dumps({"id": "a", "prompt": "What is 2 + 2?"}) + b"\n")
    return path


@pytest.mark.parametrize(
    ("cache", "extra", "said"),
    [
        ("out.jsonl", [], "the --output file"),
        ("out.jsonl.spend.jsonl", [], "the output's spend journal file"),
        ("out.jsonl.lock", [], "the output's lock file"),
        ("prompts.jsonl", [], "the --input file"),
        ("run.sqlite", ["--summary", "run.sqlite"], "the --summary file"),
    ],
)
def test_batch_cache_on_another_file(
    tmp_path: Path,
    prompts: Path,
    cache: str,
    extra: list[str],
    said: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    args = ["batch", "single_model", "--input", str(prompts), "--simulate"]
    args += ["--output", str(tmp_path / "out.jsonl"), "--cache", str(tmp_path / cache)]
    status = main(args + [str(tmp_path / e) if e.endswith(".sqlite") else e for e in extra])
    err = capsys.readouterr().err
    assert status == 2 and f"--cache {tmp_path / cache} is {said}: give another --cache" in err
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


def test_judge_cache_on_its_output_or_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = tmp_path / "mt.jsonl"
    assert main(["batch", "single_model", "--benchmark", "mt_bench", "--sample", "1",
                 "--simulate", "--output", str(answers)]) == 0  # fmt: skip
    capsys.readouterr()
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    judge = ["judge", "--benchmark", "mt_bench", "--answers", str(answers), "--simulate"]
    for cache, said in ((answers, "--answers"), (tmp_path / "j.jsonl", "--output")):
        status = main([*judge, "--output", str(tmp_path / "j.jsonl"), "--cache", str(cache)])
        err = capsys.readouterr().err
        assert status == 2 and f"--cache {cache} is the {said} file" in err, err
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before
