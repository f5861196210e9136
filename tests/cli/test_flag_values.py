"""A flag value that cannot mean anything is a usage error (exit status 2) naming the flag,
before any call: ``--temperature -1`` was read as a config error repeated for every
component ("fix 'temperature' in the config", exit 1), ``--concurrency 0`` exited 1, and
``--cache-namespace`` without ``--cache`` was ignored (no cache at all: a rerun paid again
for what a user thought was kept), as was an empty namespace, and ``--shared-limits-prefix``
without ``--shared-limits`` (no limits shared, the user believing a fleet held them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_async.cli import main

QUESTION = ["run", "default", "What is 2 + 2?", "--simulate"]


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--temperature", "-1"], "argument --temperature: -1 must be a number from 0 to 2"),
        (["--temperature", "nan"], "argument --temperature: nan must be a number from 0 to 2"),
        (["--temperature", "warm"], "argument --temperature: 'warm' is not a number"),
        (["--max-tokens", "0"], "argument --max-tokens: 0 must be at least 1"),
        (["--cache-namespace", " "], "argument --cache-namespace: give a name"),
        (["--cache-namespace", "exp1"], "--cache-namespace names a part of a cache file"),
        (["--shared-limits-prefix", "fleet2"], "--shared-limits-prefix names the fleet"),
        # Refused as --cache-namespace "" is, even with the server given: not a fleet's name.
        (
            ["--shared-limits", "redis://127.0.0.1:1/0", "--shared-limits-prefix", ""],
            "argument --shared-limits-prefix: '' must name the fleet",
        ),
        (
            ["--shared-limits", "redis://127.0.0.1:1/0", "--shared-limits-prefix", "my fleet"],
            "argument --shared-limits-prefix: 'my fleet' must name the fleet",
        ),
    ],
)
def test_a_flag_value_that_means_nothing_is_a_usage_error(
    flags: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        status = main([*QUESTION, *flags])
    except SystemExit as exc:  # argparse's own usage error
        status = int(exc.code or 0)
    captured = capsys.readouterr()
    assert status == 2 and says in captured.err, captured.err
    assert captured.out == ""  # nothing was answered


def test_concurrency_of_zero_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["batch", "--benchmark", "gsm8k"], ["judge", "--benchmark", "mt_bench"]):
        with pytest.raises(SystemExit) as exc:
            main([*command, "--concurrency", "0", "--simulate"])
        assert exc.value.code == 2
        assert "argument --concurrency: 0 must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--sample", "--limit"])
@pytest.mark.parametrize("source", [["--benchmark", "gsm8k"], ["--input", "-"]])
def test_a_sample_or_limit_of_zero_is_a_usage_error(
    flag: str, source: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """They were refused with exit status 1 ('--sample must be at least 1', checked twice:
    for a benchmark and for an input file), not as the usage errors they are."""
    with pytest.raises(SystemExit) as exc:
        main(["batch", *source, flag, "0", "--simulate"])
    assert exc.value.code == 2
    assert f"argument {flag}: 0 must be at least 1" in capsys.readouterr().err


def test_judge_answers_that_are_not_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``judge --answers`` naming no file was a traceback (FileNotFoundError; a folder:
    IsADirectoryError)."""
    for answers in (str(tmp_path / "missing.jsonl"), str(tmp_path)):
        status = main(["judge", "--benchmark", "mt_bench", "--answers", answers, "--simulate"])
        err = capsys.readouterr().err
        assert status == 1 and "Traceback" not in err, err
        assert f"archon-async: {answers}: no answers file there" in err
