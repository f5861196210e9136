"""The command line as a new user meets it: usage errors, --version, shipped configs by name,
standard input, exit statuses; each run in a subprocess."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from archon_async import Architecture, ConfigError, __version__
from tests.cli_process import expect_status, start_cli
from tests.conftest import ROOT, run_cli


def test_version() -> None:
    done = run_cli("--version")
    expect_status(done, 0)
    assert done.stdout.strip() == f"archon-async {__version__}"


def test_help_lists_the_exit_statuses() -> None:
    done = run_cli("--help")
    expect_status(done, 0)
    for status in ("0 ", "1 ", "2 ", "3 ", "130", "143"):
        assert f"\n  {status}" in done.stdout, status


def test_run_with_a_config_and_no_question_is_a_usage_error() -> None:
    for config in ("configs/default.json", "default", "archon/MoA-lite"):
        done = run_cli("run", config, env_without_keys=True)
        assert done.returncode == 2, (config, done.stdout, done.stderr)
        assert done.stdout == ""  # nothing was answered
        assert "the question is missing" in done.stderr


def test_run_reads_the_question_from_standard_input() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "archon_async.cli",
            "run",
            "configs/single_model.json",
            "-",
            "--simulate",
        ],
        input="What is 17 * 23?\n",
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert "1 calls" in done.stderr


def test_shipped_configs_load_by_name_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no configs/ folder here
    by_path = Architecture.from_file("configs/default.json")
    assert Architecture.from_file("default").fingerprint() == by_path.fingerprint()
    assert Architecture.from_name("default").fingerprint() == by_path.fingerprint()
    lite = Architecture.from_name("archon/MoA-lite")
    assert lite.depth == 2
    assert "archon/MoA-lite" in Architecture.names("archon")
    assert "default" in Architecture.names()
    with pytest.raises(ConfigError, match="default"):  # the names are listed
        Architecture.from_name("no-such-config")


def test_a_file_beats_a_shipped_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "default.json"
    mine.write_text(
        '{"name": "mine", "layers": [[{"type": "generator", "model": "m", '
        '"model_type": "OpenAI_Compatible"}]]}'
    )
    monkeypatch.chdir(tmp_path)
    assert Architecture.from_file("default.json").name == "mine"


def test_validate_every_published_archon_config_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLLM_BASE_URL", raising=False)
    done = run_cli("validate", "--all-archon")
    assert done.returncode == 0, done.stderr
    # archon-vllm-example calls a vLLM server: validate says where to give it.
    assert "needs a base URL to run" in done.stdout and "VLLM_BASE_URL" in done.stdout
    oks = [line for line in done.stdout.splitlines() if line.startswith("ok ")]
    assert len(oks) == len(Architecture.names("archon")) > 100
    done = run_cli("validate", "archon/MoA-lite", "default")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok archon/MoA-lite")
    done = run_cli("validate")
    expect_status(done, 2)
    assert "--all" in done.stderr


def test_a_missing_key_is_worded_for_the_command_line() -> None:
    done = run_cli("run", "default", "Hello?", env_without_keys=True)
    expect_status(done, 1)
    assert "TOGETHER_API_KEY" in done.stderr
    assert "--keys" in done.stderr and "--simulate" in done.stderr
    assert "Engine(" not in done.stderr


def test_sigterm_prints_the_summary_and_exits_143(tmp_path: Path) -> None:
    prompts = tmp_path / "in.jsonl"
    prompts.write_text(
        "".join(
            orjson.dumps({"id": i, "prompt": f"Question {i}?"}).decode() + "\n" for i in range(200)
        )
    )
    out = tmp_path / "out.jsonl"
    args = ["batch", "configs/single_model.json", "--input", str(prompts), "--output", str(out)]
    args += ["--simulate", "--simulate-latency-ms", "200", "--concurrency", "4"]
    with start_cli(*args, logs=tmp_path / "logs") as child:
        child.wait_until(lambda: out.exists() and out.stat().st_size > 0, timeout=60)
        done = expect_status(child.kill(signal.SIGTERM), 143)
    assert '"stopped": "terminated"' in done.stderr


def test_validate_reports_every_problem_of_a_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        orjson.dumps(
            {
                "name": 3,
                "layers": [
                    [
                        {"type": "generatr", "model": "m", "model_type": "OpenAI_API"},
                        {"type": "generator", "model": "m", "model_type": "OpenAI_API",
                         "temperature": 9},
                    ],
                    [{"type": "fuser", "model": "m", "model_type": "Nope"}],
                ],
            }
        ).decode()
    )  # fmt: skip
    done = run_cli("validate", str(bad), "default")
    expect_status(done, 1)
    assert "4 problems" in done.stderr
    for place in ("layers[0][0].type", "layers[0][1].temperature", "layers[1][0].model_type",
                  "name: "):  # fmt: skip
        assert place in done.stderr, place
    assert "ok default" in done.stdout  # the next file is still checked
    with pytest.raises(ConfigError) as info:
        Architecture.from_file(bad)
    assert len(info.value.problems) == 4


def test_run_usage_says_one_config_and_one_question() -> None:
    # argparse's line for nargs="+" read "[CONFIG] QUESTION [[CONFIG] QUESTION ...]".
    done = run_cli("run", "--help")
    expect_status(done, 0)
    assert done.stdout.startswith("usage: archon-async run [options] [CONFIG] QUESTION\n")
    assert "QUESTION ...]" not in done.stdout
    assert "--simulate" in done.stdout  # the options are still listed below
    missing = run_cli("run", env_without_keys=True)
    assert missing.returncode == 2
    assert missing.stderr.startswith("usage: archon-async run [options] [CONFIG] QUESTION\n")
