"""A fully cached rerun through the command line sends nothing and imports no HTTP client:
the providers' clients (httpx on aiohttp) are built on the first request a run sends, so a
rerun answered from the cache does not pay for importing them; nor structlog, which only an
application that configures it loads, nor the others below (bench/RESULTS.md, issue 12)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.cli.test_cli_simulated import (  # noqa: F401  (the server fixture)
    cli,
    lines,
    openai_config,
    prompts,
    provider,
    real_env,
    requests_seen,
)
from tests.conftest import ROOT

#: What a rerun answered wholly from the cache never imports: the HTTP clients (built on
#: the first request sent), structlog (an application's), the request buckets (built with
#: the first rate to keep), the live bar (a terminal's), and the search, server and
#: estimate code (other commands'), and difflib (the did-you-mean of a mistyped key).
NOT_IN_A_CACHED_RERUN = (
    "httpx",
    "aiohttp",
    "structlog",
    "aiolimiter",
    "tqdm",
    "archon_async.callpath._estimate",
    "archon_async.search",
    "archon_async.serve",
    "optuna",
    "numpy",
    "difflib",
)

#: Runs the command in this process, then lists which of those modules it had imported.
_PROBE = (
    "import sys\n"
    "from archon_async.cli import main\n"
    "status = main(sys.argv[2:])\n"
    "print('loaded', *(name for name in sys.argv[1].split(',') if name in sys.modules))\n"
    "print('status', status)\n"
)


def test_a_cached_rerun_sends_nothing_and_imports_no_http_client_nor_the_rest(
    tmp_path: Path,
    provider: str,  # noqa: F811
    openai_config: Path,  # noqa: F811
) -> None:
    cache, inputs = tmp_path / "cache.sqlite", prompts(tmp_path, count=4)
    batch = ["batch", str(openai_config), "--input", str(inputs), "--cache", str(cache)]
    first = cli(*batch, "--output", str(tmp_path / "first.jsonl"), env=real_env(provider))
    assert first.returncode == 0, first.stdout
    sent = len(requests_seen(provider))
    again = subprocess.run(
        [
            sys.executable,
            "-c",
            _PROBE,
            ",".join(NOT_IN_A_CACHED_RERUN),
            *batch,
            "--output",
            str(tmp_path / "again.jsonl"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={**real_env(provider), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-2:] == ["loaded", "status 0"]
    assert len(requests_seen(provider)) == sent  # nothing sent
    answers = {line["id"]: line["answer"] for line in lines(tmp_path / "first.jsonl")}
    assert {line["id"]: line["answer"] for line in lines(tmp_path / "again.jsonl")} == answers
    assert len(answers) == 4
