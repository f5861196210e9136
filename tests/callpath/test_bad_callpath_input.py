"""Bad call-path input is refused before any call, naming the place and what to do: budget
values, and a Redis server for the shared limits that is not there (or goes away)."""

from __future__ import annotations

import io
import math
import socket
from pathlib import Path

import orjson
import pytest

from archon_async import (
    Architecture,
    ArchonError,
    BatchStoppedError,
    Budget,
    CallPath,
    ConfigError,
    Engine,
    InvalidInputError,
)
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from archon_async.callpath import RedisLimits
from tests.cli_process import expect_status
from tests.conftest import FakeProvider, fake_registry, run_cli


def architecture(provider: FakeProvider) -> Architecture:
    spec = {"type": "generator", "model": "m", "model_type": "Fake_API"}
    return Architecture.from_dict({"layers": [[spec]]}, registry=fake_registry(provider))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port  # nothing listens there once the probe is closed


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--max-cost", "nan", "argument --max-cost: nan must be a finite number above 0"),
        ("--max-cost", "inf", "argument --max-cost: inf must be a finite number above 0"),
        ("--max-cost", "0", "argument --max-cost: 0 must be a finite number above 0"),
        ("--max-total-tokens", "0", "argument --max-total-tokens: 0 must be at least 1"),
        ("--max-calls", "-5", "argument --max-calls: -5 must be at least 1"),
        ("--cache", "", "argument --cache: give the path of the cache file, e.g. runs.sqlite"),
    ],
)
def test_cli_refuses_budget_and_cache_values_that_cannot_work(
    tmp_path: Path, option: str, value: str, said: str
) -> None:
    """A zero cap used to stop the batch at once and print a resume command with the same
    zero; NaN let one prompt run and then said 'the budget of $nan'; an empty --cache said
    'cannot use . as a response cache'."""
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"id": 1, "prompt": "q"}\n')
    out = tmp_path / "out.jsonl"
    done = run_cli(
        "batch", "--input", str(prompts), "--output", str(out), f"{option}={value}",
        env_without_keys=True,
    )  # fmt: skip
    assert done.returncode == 2 and said in done.stderr, done.stderr
    assert not out.exists()


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_budget_refuses_caps_that_are_not_finite(value: float) -> None:
    with pytest.raises(InvalidInputError, match="max_cost_usd must be a finite number"):
        Budget(max_cost_usd=value)
    with pytest.raises(InvalidInputError, match="max_tokens must be a whole number"):
        Budget(max_tokens=value)  # type: ignore[arg-type]


async def test_a_redis_server_not_there_is_said_when_the_call_path_opens() -> None:
    provider = FakeProvider(lambda request: "ok")
    url = f"redis://:hunter2@127.0.0.1:{closed_port()}/0"
    engine = Engine(architecture(provider), shared_limits=RedisLimits(url))
    with pytest.raises(ConfigError, match="cannot be reached") as raised:
        async with engine:
            await engine.generate("q")
    message = str(raised.value)
    assert "hunter2" not in message and "redis://:***@127.0.0.1" in message
    assert "start redis-server there, or fix the URL" in message
    assert provider.requests == []


def test_cli_says_a_redis_server_is_not_there_without_a_traceback() -> None:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    done = run_cli("run", "q", "--simulate", "--shared-limits", url)
    assert expect_status(done, 1).stdout == ""
    assert f"the Redis server of the shared limits, {url}, cannot be reached" in done.stderr
    assert "Traceback" not in done.stderr


async def test_a_redis_server_that_goes_away_stops_a_batch(redis_url: str, tmp_path: Path) -> None:
    """A failure every prompt would meet: the batch stops and says why, with no traceback
    of redis's own errors (it raised redis's ConnectionError out of the batch)."""
    provider = FakeProvider(lambda request: "ok")
    limits = RedisLimits(redis_url, prefix="gone")
    out = tmp_path / "out.jsonl"
    prompts = [
        BatchItem(id=f"q{i}", messages=[{"role": "user", "content": f"question {i}"}])
        for i in range(5)
    ]
    async with CallPath(shared_limits=limits) as calls:
        engine = Engine(architecture(provider), callpath=calls)
        await engine.generate("first")
        await limits._client.shutdown(nosave=True)  # the server stops
        with pytest.raises(BatchStoppedError, match=r"shared limits, .* failed") as stopped:
            await run_batch(engine, prompts, out, total=5, concurrency=1, progress=io.StringIO())
    assert isinstance(stopped.value, ArchonError)
    assert len(provider.requests) == 1
    # The prompt that met it has an error line (a rerun retries it); no other started.
    written = out.read_text().splitlines()
    assert len(written) == 1 and "shared limits" in written[0]


def test_serve_refuses_to_start_on_a_redis_server_not_there() -> None:
    """It started, said ready, and answered every request with a 500."""
    url = f"redis://:hunter2@127.0.0.1:{closed_port()}/0"
    done = run_cli("serve", "default", "--simulate", "--port", "0", "--shared-limits", url)
    assert done.returncode == 1, done.stderr
    assert "the Redis server of the shared limits, redis://:***@" in done.stderr
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr
    assert "serving" not in done.stderr


def test_redis_limits_refuse_a_url_that_is_not_redis() -> None:
    """It was redis's own ValueError, not an ArchonError."""
    with pytest.raises(ConfigError, match="'http://x' is not a Redis URL"):
        RedisLimits("http://x")


@pytest.mark.parametrize("prefix", ["", "my fleet", " ", None])
def test_redis_limits_refuse_a_prefix_that_names_no_fleet(prefix: object) -> None:
    with pytest.raises(ConfigError, match=r"prefix=.* must name the fleet"):
        RedisLimits("redis://127.0.0.1:1/0", prefix=prefix)  # type: ignore[arg-type]


@pytest.mark.parametrize("query", ["foo=bar", "socket_timeout=soon"])
def test_redis_limits_refuse_a_url_option_redis_does_not_take(query: str) -> None:
    """An unknown option in the URL's query was a TypeError traceback from inside redis when
    the call path opened (a bad value was refused, as it is still)."""
    url = f"redis://:hunter2@127.0.0.1:{closed_port()}/0?{query}"
    with pytest.raises(ConfigError, match="is not a Redis URL") as refused:
        RedisLimits(url)
    assert "hunter2" not in str(refused.value) and "redis://:***@127.0.0.1" in str(refused.value)
    done = run_cli("run", "q", "--simulate", "--shared-limits", url)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "is not a Redis URL" in done.stderr and "hunter2" not in done.stderr


async def test_shared_limits_take_the_redis_url_as_the_cli_does(redis_url: str) -> None:
    """``Engine(..., shared_limits="redis://...")`` was an AttributeError ('str' object has
    no attribute 'check') when the engine opened."""
    provider = FakeProvider(lambda request: "ok")
    async with Engine(architecture(provider), shared_limits=redis_url) as engine:
        await engine.generate("q")
        assert isinstance(engine.callpath.shared_limits, RedisLimits)
    assert len(provider.requests) == 1


@pytest.mark.parametrize(
    ("argument", "said"),
    [
        ({"shared_limits": "http://x"}, "'http://x' is not a Redis URL"),
        ({"shared_limits": 6379}, "shared_limits takes a RedisLimits or a Redis URL"),
        ({"cache": 5}, "cache takes a ResponseCache or the path of its file"),
    ],
)
def test_call_path_arguments_of_the_wrong_kind_are_a_config_error(
    argument: dict[str, object], said: str
) -> None:
    with pytest.raises(ConfigError, match=said):
        CallPath(**argument)  # type: ignore[arg-type]


def test_max_cost_on_a_model_with_no_list_price_is_refused_before_any_call(
    tmp_path: Path,
) -> None:
    """Its calls cost $0 to the budget, so --max-cost never stopped anything: a batch under
    --max-cost 0.0001 answered every prompt, exit status 0."""
    config = tmp_path / "local.json"
    spec = {"type": "generator", "model": "my-local-model", "model_type": "OpenAI_API"}
    config.write_text(orjson.dumps({"name": "local", "layers": [[spec]]}).decode())
    done = run_cli("run", str(config), "q", "--simulate", "--max-cost", "0.0001")
    assert done.returncode == 2, done.stderr
    assert "--max-cost 0.0001 cannot cap" in done.stderr and "my-local-model" in done.stderr
    assert "--max-calls or --max-total-tokens" in done.stderr and done.stdout == ""
    priced = run_cli("run", "q", "--simulate", "--max-cost", "1")  # the default's models
    assert priced.returncode == 0, priced.stderr


@pytest.mark.parametrize("given", ["", ":wrong-Password-1@"])
async def test_a_redis_server_refusing_the_password_is_not_said_to_be_absent(
    redis_url: str, given: str
) -> None:
    # It read "cannot be reached (AuthenticationError: ...): start redis-server there".
    import redis

    with redis.Redis.from_url(redis_url) as admin:
        admin.config_set("requirepass", "right-Password-2")
    provider = FakeProvider(lambda request: "ok")
    url = redis_url.replace("redis://", f"redis://{given}")
    engine = Engine(architecture(provider), shared_limits=RedisLimits(url))
    with pytest.raises(ConfigError) as raised:
        async with engine:
            await engine.generate("q")
    message = str(raised.value)
    assert "refused the URL's credentials (AuthenticationError: " in message
    assert "give the server's password in the URL" in message
    assert "start redis-server" not in message and "wrong-Password-1" not in message
    assert provider.requests == []


async def test_an_sqlite_database_of_other_tables_is_no_cache(tmp_path: Path) -> None:
    """An application's own SQLite file given as the cache is refused and left as it was
    (found by this stop's attacker): it was given the cache's tables and put in WAL mode."""
    import sqlite3

    path = tmp_path / "app.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (id INTEGER, name TEXT)")
    before = path.read_bytes()
    with pytest.raises(
        ConfigError, match=r"SQLite database this library did not write \(its tables: users\)"
    ):
        async with CallPath(cache=path, simulate=True):
            pass
    assert path.read_bytes() == before and _names(tmp_path) == ["app.db"]
    reused = tmp_path / "runs.sqlite"  # a cache this library wrote opens again
    for _ in range(2):
        async with CallPath(cache=reused, simulate=True):
            pass


def _names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())
