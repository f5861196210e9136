"""Caller keys from flags, a file and the environment; the command serving them, never
logging them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from archon_async import ConfigError
from archon_async.serve import ENV_API_KEYS, load_api_keys
from archon_async.serve._auth import Gate
from archon_async.serve._errors import ServeError
from tests.conftest import ROOT
from tests.uvicorn_port import bound_port


def test_keys_come_from_flags_a_file_and_the_environment(tmp_path: Path) -> None:
    file = tmp_path / "keys.txt"
    file.write_text("# ops team\nsk-file-1\n\nsk-flag\n")
    keys = load_api_keys(["sk-flag"], file=file, environ={ENV_API_KEYS: "sk-env-1, sk-env-2"})
    assert [key.get_secret_value() for key in keys] == [
        "sk-flag",
        "sk-file-1",
        "sk-env-1",
        "sk-env-2",
    ]
    assert "sk-flag" not in repr(keys)
    with pytest.raises(ConfigError, match="blank or holds whitespace"):
        load_api_keys(["sk a"], environ={})
    with pytest.raises(ConfigError, match="cannot read the API key file"):
        load_api_keys([], file=tmp_path / "missing.txt", environ={})


def test_a_key_file_or_variable_holding_no_key_is_refused(tmp_path: Path) -> None:
    """An empty --api-key-file (or one of comments), or ARCHON_SERVE_API_KEYS set to blanks,
    served with no key at all: every request let in, where its owner meant to lock the
    server (found by the new-user test)."""
    empty = tmp_path / "keys.txt"
    for text in ("", "\n\n", "# ops team\n"):
        empty.write_text(text)
        with pytest.raises(ConfigError, match=r"keys\.txt: the API key file holds no key"):
            load_api_keys([], file=empty, environ={})
    with pytest.raises(ConfigError, match=f"{ENV_API_KEYS} is set but holds no key"):
        load_api_keys([], environ={ENV_API_KEYS: " , "})
    assert load_api_keys([], environ={ENV_API_KEYS: ""}) == []  # empty: as if unset


def test_the_gate_names_callers_by_fingerprint_and_counts_them() -> None:
    gate = Gate(load_api_keys(["sk-one", "sk-two"], environ={}), max_concurrent=1)
    caller = gate.identify("Bearer sk-two")
    assert caller.startswith("key-") and "sk-two" not in caller and "sk-two" not in repr(gate)
    assert gate.identify("bearer   sk-one ") != caller
    for bad in (None, "", "Bearer", "Basic sk-one", "Bearer sk-three", "Bearer sk-one2"):
        with pytest.raises(ServeError) as refused:
            gate.identify(bad)
        assert refused.value.status == 401
    with gate.slot(caller):
        assert gate.in_flight() == 1
        with pytest.raises(ServeError) as busy, gate.slot(caller):
            pass
        assert busy.value.status == 429
    assert gate.in_flight() == 0


def test_the_command_serves_and_never_logs_a_key(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("sk-from-file-7f3a\n")
    env = {**os.environ, ENV_API_KEYS: "sk-from-env-91bc", "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable, "-m", "archon_async.cli", "-vv", "serve", "configs/single_model.json",
        "--simulate", "--port", "0", "--api-key", "sk-from-flag-55d0",
        "--api-key-file", str(keys), "--grace-s", "2",
    ]  # fmt: skip
    log = tmp_path / "serve.log"  # uvicorn says there which port it bound
    with log.open("w") as err_file:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err_file, text=True
        )
    try:
        root = f"http://127.0.0.1:{bound_port(log, server)}"
        _wait_ready(root, server)
        question = {"model": "single-call", "messages": [{"role": "user", "content": "Hi?"}]}
        for key in ("sk-from-flag-55d0", "sk-from-file-7f3a", "sk-from-env-91bc"):
            answer = httpx.post(
                f"{root}/v1/chat/completions",
                json=question,
                headers={"authorization": f"Bearer {key}"},
                timeout=60,
            )
            assert answer.status_code == 200, answer.text
        wrong = httpx.post(
            f"{root}/v1/chat/completions",
            json=question,
            headers={"authorization": "Bearer sk-wrong-0000"},
        )
        assert wrong.status_code == 401
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=60)
    err = log.read_text()
    assert "serving single-call" in err
    for secret in ("sk-from-flag-55d0", "sk-from-file-7f3a", "sk-from-env-91bc", "sk-wrong"):
        assert secret not in out and secret not in err


def _wait_ready(root: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server ended before it was ready"
        try:
            if httpx.get(f"{root}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server did not become ready")
