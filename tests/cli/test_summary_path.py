"""``--summary`` naming one of the command's own files is refused before any call (found by
the new-user test: 'batch --input prompts.jsonl --summary prompts.jsonl' replaced the
user's prompts with the summary at the end, and '--summary' equal to '--output' replaced
the answers, so that a rerun asked every prompt again)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from archon_async.cli import main


def test_a_summary_on_the_input_the_output_or_the_answers_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_bytes(orjson.dumps({"id": "a", "prompt": "What is 2 + 2?"}) + b"\n")
    answers = tmp_path / "answers.jsonl"
    batch = ["batch", "single_model", "--input", str(prompts), "--output", str(answers)]
    for summary, flag in ((prompts, "input"), (answers, "output")):
        before = prompts.read_bytes()
        status = main([*batch, "--simulate", "--summary", str(summary)])
        err = capsys.readouterr().err
        assert status == 2, err
        assert f"--summary {summary} is the --{flag} file, which the summary would" in err
        assert prompts.read_bytes() == before and not answers.exists()
    mt = tmp_path / "mt.jsonl"
    mt_batch = ["batch", "single_model", "--benchmark", "mt_bench", "--sample", "1"]
    assert main([*mt_batch, "--simulate", "--output", str(mt)]) == 0
    capsys.readouterr()
    kept = mt.read_bytes()
    judge = ["judge", "--benchmark", "mt_bench", "--answers", str(mt), "--simulate"]
    status = main([*judge, "--summary", str(mt)])
    assert status == 2 and "is the --answers file" in capsys.readouterr().err
    assert mt.read_bytes() == kept
