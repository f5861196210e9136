"""Simulation is always visible and never mixed with reality, tried as a user would: the
CLI in a subprocess, a "real" provider played by a simulated server on the loopback that
the CLI reaches only through OPENAI_BASE_URL and OPENAI_API_KEY (so, to the CLI, it is a
real API), and the judge with and without a key."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from archon_async.simulate import SIMULATED_MARK
from tests.cli_process import expect_status, simulator_process
from tests.conftest import ROOT


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``archon-async ARGS`` with stderr merged into stdout, as a terminal shows them, and
    no key or base URL from the caller's environment unless ``env`` gives one."""
    base = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    return subprocess.run(
        [sys.executable, "-m", "archon_async.cli", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=240,
        env={**base, "PYTHONUNBUFFERED": "1", **(env or {})},
        check=False,
    )


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server speaking the OpenAI API on the loopback, logging the requests it gets."""
    logs = tmp_path_factory.mktemp("provider")
    with simulator_process("--request-log", "500", logs=logs) as url:
        yield url


def real_env(url: str) -> dict[str, str]:
    return {"OPENAI_API_KEY": "sk-test-judge-key", "OPENAI_BASE_URL": f"{url}/v1"}


def requests_seen(url: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = httpx.get(f"{url}/requests", timeout=10).json()
    return records


def lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture
def openai_config(tmp_path: Path) -> Path:
    config = tmp_path / "openai_single.json"
    layer = {"type": "generator", "model": "gpt-4o-mini", "model_type": "OpenAI_API"}
    config.write_bytes(orjson.dumps({"name": "one-openai-call", "layers": [[layer]]}))
    return config


def prompts(tmp_path: Path, count: int = 3) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(f'{{"id": "p{n}", "prompt": "Question {n}?"}}\n' for n in range(count)))
    return path


def test_run_says_simulated_first_and_how_to_run_for_real() -> None:
    done = cli("run", "What is 17 * 23?")
    assert done.returncode == 0, done.stdout
    first, *rest = done.stdout.splitlines()
    assert first.startswith("archon-async: simulated run")
    assert "To run for real" in first and "--keys" in first and "TOGETHER_API_KEY" in first
    assert "--base-url URL --model NAME" in first and "OPENAI_BASE_URL" in first
    # The answer itself reads as simulated: the simulator's mark is its first line.
    assert rest[0] == SIMULATED_MARK


def test_a_simulated_batch_marks_every_line_and_the_summary(
    tmp_path: Path, openai_config: Path
) -> None:
    output, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    done = cli(
        "batch", str(openai_config), "--input", str(prompts(tmp_path)), "--simulate",
        "--output", str(output), "--summary", str(summary),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout
    first = done.stdout.splitlines()[0]
    assert first.startswith("archon-async: simulated batch")
    assert "drop --simulate" in first and "OPENAI_API_KEY" in first
    written = lines(output)
    assert len(written) == 3
    assert all(line["simulated"] is True for line in written)
    assert all(line["answer"].startswith(SIMULATED_MARK) for line in written)
    assert orjson.loads(summary.read_bytes())["simulated"] is True


def test_a_real_run_refuses_a_simulated_file(
    tmp_path: Path, openai_config: Path, provider: str
) -> None:
    output = tmp_path / "out.jsonl"
    source = str(prompts(tmp_path))
    simulated = cli("batch", str(openai_config), "--input", source, "--simulate",
                    "--output", str(output))  # fmt: skip
    assert simulated.returncode == 0, simulated.stdout
    before = output.read_bytes()
    calls_before = len(requests_seen(provider))
    real = cli("batch", str(openai_config), "--input", source, "--output", str(output),
               env=real_env(provider))  # fmt: skip
    expect_status(real, 1)
    assert "these lines are simulated" in real.stdout and "this run is real" in real.stdout
    assert "never mixed" in real.stdout
    assert output.read_bytes() == before  # nothing resumed, nothing written
    assert len(requests_seen(provider)) == calls_before  # and nothing called


def test_a_simulated_run_refuses_a_real_file(
    tmp_path: Path, openai_config: Path, provider: str
) -> None:
    output = tmp_path / "out.jsonl"
    source = str(prompts(tmp_path))
    real = cli("batch", str(openai_config), "--input", source, "--output", str(output),
               env=real_env(provider))  # fmt: skip
    assert real.returncode == 0, real.stdout
    assert "simulated" not in real.stdout.splitlines()[0]
    written = lines(output)
    assert [line["simulated"] for line in written] == [False, False, False]
    before = output.read_bytes()
    simulated = cli("batch", str(openai_config), "--input", source, "--simulate",
                    "--output", str(output))  # fmt: skip
    expect_status(simulated, 1)
    assert "these lines are real model answers and this run is simulated" in simulated.stdout
    assert output.read_bytes() == before


def real_mt_bench_answers(tmp_path: Path, provider: str, config: Path) -> Path:
    answers = tmp_path / "mt.jsonl"
    done = cli("batch", str(config), "--benchmark", "mt_bench", "--limit", "2",
               "--output", str(answers), env=real_env(provider))  # fmt: skip
    assert done.returncode == 0, done.stdout
    return answers


def test_the_judge_without_a_key_says_what_to_set_and_rates_nothing(
    tmp_path: Path, openai_config: Path, provider: str
) -> None:
    answers = real_mt_bench_answers(tmp_path, provider, openai_config)
    calls_before = len(requests_seen(provider))
    done = cli("judge", "--benchmark", "mt_bench", "--answers", str(answers))
    expect_status(done, 1)
    assert "OPENAI_API_KEY" in done.stdout and "--simulate" in done.stdout
    assert "the judge (gpt-4o) is a real model" in done.stdout
    assert "rating" not in done.stdout  # no rating that no model gave
    assert len(requests_seen(provider)) == calls_before


def test_the_judge_with_a_key_calls_the_model_it_names(
    tmp_path: Path, openai_config: Path, provider: str
) -> None:
    answers = real_mt_bench_answers(tmp_path, provider, openai_config)
    calls_before = len(requests_seen(provider))
    done = cli("judge", "--benchmark", "mt_bench", "--answers", str(answers),
               env=real_env(provider))  # fmt: skip
    assert done.returncode == 0, done.stdout
    assert "simulated" not in done.stdout.splitlines()[0]
    summary = orjson.loads(done.stdout[done.stdout.index("{") :])
    assert summary["simulated"] is False and summary["judge_models"] == ["gpt-4o"]
    assert summary["graded"] == 4  # two questions, two turns each
    judge_calls = requests_seen(provider)[calls_before:]
    assert [call["model"] for call in judge_calls] == ["gpt-4o"] * 4
    judgements = lines(Path(summary["judgements"]))
    assert all(line["simulated"] is False for line in judgements)


def test_a_real_judge_refuses_simulated_answers(
    tmp_path: Path, openai_config: Path, provider: str
) -> None:
    answers = tmp_path / "mt.jsonl"
    done = cli("batch", str(openai_config), "--benchmark", "mt_bench", "--limit", "2",
               "--simulate", "--output", str(answers))  # fmt: skip
    assert done.returncode == 0, done.stdout
    calls_before = len(requests_seen(provider))
    judged = cli("judge", "--benchmark", "mt_bench", "--answers", str(answers),
                 env=real_env(provider))  # fmt: skip
    expect_status(judged, 1)
    assert "2 of 2 answers are simulated" in judged.stdout and "--simulate" in judged.stdout
    assert len(requests_seen(provider)) == calls_before


def test_a_simulated_judge_says_so_first_and_marks_its_lines(
    tmp_path: Path, openai_config: Path
) -> None:
    answers = tmp_path / "mt.jsonl"
    done = cli("batch", str(openai_config), "--benchmark", "mt_bench", "--limit", "2",
               "--simulate", "--output", str(answers))  # fmt: skip
    assert done.returncode == 0, done.stdout
    judged = cli("judge", "--benchmark", "mt_bench", "--answers", str(answers), "--simulate")
    assert judged.returncode == 0, judged.stdout
    first = judged.stdout.splitlines()[0]
    assert first.startswith("archon-async: simulated judge") and "To grade for real" in first
    summary = orjson.loads(judged.stdout[judged.stdout.index("{") :])
    assert summary["simulated"] is True and summary["graded"] == 4
    assert all(line["simulated"] is True for line in lines(Path(summary["judgements"])))
