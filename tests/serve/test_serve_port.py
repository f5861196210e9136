"""``serve`` says the port it listens on, and refuses flag values that mean nothing (found
by the new-user test). ``--port 0`` printed "serving ... on http://127.0.0.1:0/v1" (the
port the system chose was said only by uvicorn's own log, with ``-v``); ``--port 99999``
printed ":99999" while the system's address lookup had bound 99999 modulo 65536 (34463);
``--port -1`` was uvicorn's "Servname not supported" (exit 3); ``--grace-s -1`` and
``--max-body-bytes 0`` served; ``--simulate-latency-ms -5`` was pydantic's traceback."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from archon_async.cli import main
from tests.conftest import ROOT

SERVE = ["serve", "configs/single_model.json", "--simulate"]


def test_port_0_is_said_as_the_port_bound(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "archon_async.cli", *SERVE, "--port", "0", "--grace-s", "1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("w") as err:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stderr=err)
    try:
        deadline, said = time.monotonic() + 90, None
        while said is None and time.monotonic() < deadline and server.poll() is None:
            said = re.search(
                r"serving single-call on http://127\.0\.0\.1:(\d+)/v1", log.read_text()
            )
            time.sleep(0.05)
        assert said is not None, log.read_text()
        port = int(said.group(1))
        assert port != 0
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=30).status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--port", "99999"], "argument --port: 99999 is not a port: give 0 to 65535"),
        (["--port", "-1"], "argument --port: -1 must be at least 0"),
        (["--grace-s", "-1"], "argument --grace-s: -1 must be at least 0"),
        (["--max-body-bytes", "0"], "argument --max-body-bytes: 0 must be at least 1"),
        (["--max-concurrent", "0"], "argument --max-concurrent: 0 must be at least 1"),
        (
            ["--simulate-latency-ms", "-5"],
            "argument --simulate-latency-ms: -5 must be a finite number of at least 0",
        ),
    ],
)
def test_a_serve_flag_that_means_nothing_is_a_usage_error(
    flags: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*SERVE, *flags])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and says in err, err


def test_a_negative_simulated_latency_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["run", "default", "Hi?"], ["batch", "--benchmark", "gsm8k"]):
        with pytest.raises(SystemExit) as exc:
            main([*command, "--simulate", "--simulate-latency-ms", "-5"])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and "Traceback" not in err, err
        assert "argument --simulate-latency-ms: -5 must be a finite number of at least 0" in err
