"""A batch writing its answers to standard output and stopped by its budget offers no
resume command (found by the new-user test: it said 'finished prompts are not asked again:
to answer the 55 left, run: ... --output - --max-calls 61', and that command asked all 60
again, paying twice for the 5 answered: standard output keeps no record to resume from)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from archon_async.cli import main


def test_a_stopped_batch_on_standard_output_says_it_cannot_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "prompts.jsonl"
    lines = [{"id": f"p{i}", "prompt": f"What is {i} + 1?"} for i in range(12)]
    prompts.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    summary_path = tmp_path / "summary.json"
    command = ["batch", "single_model", "--input", str(prompts), "--output", "-", "--simulate"]
    caps = ["--max-calls", "3", "--concurrency", "1", "--summary", str(summary_path)]
    status = main([*command, *caps])
    captured = capsys.readouterr()
    assert status == 1
    # The three answers, on standard output (among other tests' structlog lines, if any).
    answers = [line for line in captured.out.splitlines() if line.startswith('{"id":')]
    assert len(answers) == 3
    summary = orjson.loads(summary_path.read_bytes())
    assert "resume" not in summary and summary["not_started"] == 9
    stopped = summary["stopped"]
    assert "the budget of 3 calls is spent" in stopped and "9 prompts did not start" in stopped
    assert "which keeps no record to resume from" in stopped and "give --output FILE" in stopped
    assert "not asked again" not in stopped
