"""A fully cached rerun through the command line sends nothing and imports no HTTP client:
the providers' clients (httpx on aiohttp) are built on the first request a run sends, so a
rerun answered from the cache does not pay for importing them; nor structlog, which only an
application that configures it loads (bench/RESULTS.md, issue 12)."""

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

#: Runs the command in this process, then says which of those libraries it had imported.
_PROBE = (
    "import sys\n"
    "from archon_async.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "print('loaded', *(name in sys.modules for name in ('httpx', 'aiohttp', 'structlog')))\n"
    "print('status', status)\n"
)


def test_a_cached_rerun_sends_nothing_and_imports_no_http_client_nor_structlog(
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
        [sys.executable, "-c", _PROBE, *batch, "--output", str(tmp_path / "again.jsonl")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={**real_env(provider), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-2:] == ["loaded False False False", "status 0"]
    assert len(requests_seen(provider)) == sent  # nothing sent
    answers = {line["id"]: line["answer"] for line in lines(tmp_path / "first.jsonl")}
    assert {line["id"]: line["answer"] for line in lines(tmp_path / "again.jsonl")} == answers
    assert len(answers) == 4
