"""The command a stopped batch prints to go on holds no password: ``--shared-limits
redis://user:PASSWORD@host/0`` (a shared Redis server has one) was printed whole in the
summary's ``stopped`` and ``resume``, on standard error and in the ``--summary`` file. The
password is shown as ``***``, and the summary says to put it back."""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson
import redis

from archon_async._cli_callpath import rerun_command
from tests.conftest import run_cli

PASSWORD = "hunter2-redis-0123456789"


def test_a_budget_stop_prints_no_redis_password(tmp_path: Path, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:  # a user of its own with a password, as a shared server has (ACL)
        client.acl_setuser(
            "archon-test", enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"],
            channels=["*"], commands=["+@all"],
        )  # fmt: skip
    finally:
        client.close()
    url = redis_url.replace("redis://", f"redis://archon-test:{PASSWORD}@", 1)
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(f'{{"id": {i}, "prompt": "q {i}"}}\n' for i in range(6)))
    summary = tmp_path / "summary.json"
    done = run_cli(
        "batch", "--input", str(prompts), "--output", str(tmp_path / "out.jsonl"),
        "--max-calls", "30", "--shared-limits", url, "--summary", str(summary),
        env_without_keys=True,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    for text in (done.stdout, done.stderr, summary.read_text()):
        assert PASSWORD not in text
    figures = orjson.loads(summary.read_bytes())
    assert figures["answered"] == 2 and "archon-test:***@127.0.0.1" in figures["resume"]
    assert "--max-calls 53" in figures["resume"] and "put it back" in figures["stopped"]


def test_the_rerun_command_hides_the_password_of_any_url() -> None:
    words = ["batch", "--base-url=http://bob:secret-pw@127.0.0.1:8080/v1", "--shared-limits",
             "rediss://:secret-pw@cache.internal:6380/2", "--model", "m"]  # fmt: skip
    args = argparse.Namespace(command_line=words)
    command = rerun_command(args, {"--max-calls": "10"})
    assert "secret-pw" not in command
    assert "--base-url=http://bob:***@127.0.0.1:8080/v1" in command
    assert "rediss://:***@cache.internal:6380/2" in command and "--max-calls 10" in command
