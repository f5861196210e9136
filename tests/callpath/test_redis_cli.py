"""``--shared-limits`` on the command line: two ``batch`` processes on one Redis hold one
rate limit together, and a URL that is not Redis's is refused before any call."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from archon_async.cli import main
from archon_async.simulate import SimulatedServer, SimulationSettings
from tests.cli_process import expect_status
from tests.conftest import ROOT, run_cli

RPM = 600  # 10 requests a second for both processes together
WINDOW_S = 3.0


def _files(tmp_path: Path, name: str) -> tuple[Path, Path]:
    config = tmp_path / "arch.json"
    config.write_text(
        json.dumps(
            {
                "name": "shared",
                "providers": {"OpenAI_API": {"rpm": RPM}},
                "layers": [[{"type": "generator", "model": "m", "model_type": "OpenAI_API"}]],
            }
        )
    )
    prompts = tmp_path / f"{name}.jsonl"
    prompts.write_text(
        "".join(json.dumps({"id": i, "prompt": f"{name} question {i}"}) + "\n" for i in range(20))
    )
    return config, prompts


async def test_two_batch_processes_hold_one_limit_through_redis(
    tmp_path: Path, redis_url: str
) -> None:
    settings = SimulationSettings(rpm=RPM, rpm_window_s=WINDOW_S, request_log=10_000)
    async with SimulatedServer(settings) as server:

        def run_both() -> list[subprocess.CompletedProcess[str]]:
            workers = []
            for name in ("a", "b"):
                config, prompts = _files(tmp_path, name)
                command = [
                    sys.executable, "-m", "archon_async.cli", "batch", str(config),
                    "--input", str(prompts), "--output", str(tmp_path / f"{name}.out.jsonl"),
                    "--simulate-url", str(server.base_url),
                    "--shared-limits", redis_url, "--shared-limits-prefix", "cli-test",
                ]  # fmt: skip
                workers.append(
                    subprocess.Popen(
                        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                    )
                )
            done = []
            for worker in workers:
                out, err = worker.communicate(timeout=180)
                done.append(subprocess.CompletedProcess(worker.args, worker.returncode, out, err))
            return done

        for finished in await anyio.to_thread.run_sync(run_both):
            expect_status(finished)
        log = server.request_log()
    answered = [record for record in log if record.status == 200]
    assert len(answered) == 40
    # Alone, each process would go at the full rate: together they would double it. Shared,
    # no 3 s window holds more than the limit allows for both.
    allowance = int(RPM * WINDOW_S / 60)
    assert all(
        sum(1 for other in answered if record.at_s - WINDOW_S < other.at_s <= record.at_s)
        <= allowance
        for record in answered
    )
    import redis

    client = redis.Redis.from_url(redis_url)
    assert client.keys("cli-test:*")  # the buckets the two processes shared
    client.close()


def test_a_shared_limits_url_that_is_not_redis_is_refused(tmp_path: Path) -> None:
    done = run_cli("run", "Q?", "--simulate", "--shared-limits", "http://127.0.0.1:6379")
    expect_status(done, 1)
    assert "--shared-limits takes a Redis URL" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["run", "batch", "judge", "serve"])
def test_every_engine_command_takes_shared_limits(command: str) -> None:
    done = run_cli(command, "--help")
    assert "--shared-limits URL" in done.stdout


def test_served_architectures_share_limits_through_redis(redis_url: str) -> None:
    from archon_async.callpath import RedisLimits
    from archon_async.serve import create_app

    arch = {"layers": [[{"type": "generator", "model": "m", "model_type": "OpenAI_API"}]]}
    app = create_app(
        [{**arch, "name": "one"}, {**arch, "name": "two"}],
        simulate=True,
        shared_limits=redis_url,
        shared_limits_prefix="replicas",
    )
    limits = [engine.callpath.shared_limits for engine in app.state.archon.engines.values()]
    assert len(limits) == 2
    assert all(isinstance(item, RedisLimits) and item.prefix == "replicas" for item in limits)


def test_a_url_that_is_not_redis_is_refused_without_its_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "http://admin:hunter2-redis-pw@127.0.0.1:6379/0"
    assert main(["run", "Q?", "--simulate", "--shared-limits", url]) == 1
    err = capsys.readouterr().err
    assert "--shared-limits takes a Redis URL" in err and "http://admin:***@127.0.0.1" in err
    assert "hunter2-redis-pw" not in err
