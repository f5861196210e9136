"""``python -m archon_async.simulate``: settings from flags and files; a real subprocess."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from archon_async.simulate.__main__ import build_settings
from tests.cli_process import expect_status


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "sim.json"
    config.write_text(
        json.dumps({"latency_s": 0.5, "rpm": 10, "seed": 4, "models": {"m": {"skill": 0.9}}})
    )
    key = tmp_path / "key.json"
    key.write_text(json.dumps({"What is 1+1?": "2"}))
    settings = build_settings(
        [
            "--config",
            str(config),
            "--port",
            "0",
            "--latency-ms",
            "20",
            "--jitter-ms",
            "5",
            "--faults",
            "5xx,reset",
            "--fault-rate",
            "0.25",
            "--answer-key",
            str(key),
            "--require-key",
            "--rpm-window-s",
            "6",
            "--rate-limiter",
            "token_bucket",
            "--request-log",
            "50",
        ]
    )
    assert settings.port == 0
    assert settings.latency_s == pytest.approx(0.02)
    assert settings.jitter_s == pytest.approx(0.005)
    assert settings.rpm == 10
    assert settings.seed == 4
    assert settings.faults == ["5xx", "reset"]
    assert settings.fault_rate == 0.25
    assert settings.answer_key == {"What is 1+1?": "2"}
    assert settings.require_key is True
    assert (settings.rpm_window_s, settings.rate_limiter) == (6.0, "token_bucket")
    assert settings.request_log == 50
    assert settings.for_model("m").skill == 0.9
    assert settings.for_model("other").skill == settings.skill
    assert build_settings([]).port == 8765
    assert build_settings([]).enforce_request_rules is True
    assert build_settings(["--lenient"]).enforce_request_rules is False


def test_invalid_flags_exit_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_settings(["--faults", "5xx,gremlins"])
    assert exit_info.value.code == 2
    assert "gremlins" in capsys.readouterr().err


async def test_the_module_serves_until_terminated() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "archon_async.simulate",
        "--port",
        "0",
        "--latency-ms",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        url = await asyncio.wait_for(_announced_url(process), timeout=120)
        async with httpx.AsyncClient() as client:
            stats = (await client.get(f"{url}/stats")).json()
            assert stats["requests"] == 0
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            reply = await client.post(f"{url}/v1/chat/completions", json=body)
            assert reply.status_code == 200
            assert (await client.get(f"{url}/stats")).json()["replies"] == 1
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()


async def _announced_url(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    while line := (await process.stdout.readline()).decode():
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            return match.group(1)
    raise AssertionError("the server exited without announcing its address")


async def test_a_port_in_use_is_a_one_line_error_with_status_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "archon_async.simulate",
            "--port",
            str(port),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
        finally:  # not left running: it would bind the port once this test lets it go
            if process.returncode is None:
                process.kill()
                await process.wait()
    lines = stderr.decode().strip().splitlines()
    expect_status(process, 2)
    assert stdout == b""
    assert len(lines) == 1, stderr.decode()
    assert "Traceback" not in lines[0]
    assert f"127.0.0.1:{port}" in lines[0]
    assert "in use" in lines[0]
