"""One cache file used by several processes at once: the first sample kept wins and every
process goes on with it; a request in flight in one process is not sent by another (claims
in the file, which lapse when their process dies or is too slow).

Two `ResponseCache` objects on one file stand for two processes here (each has its own
claims); the last test runs real processes against a counting server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from archon_async import CallPath, ChatRequest, ChatResponse, Engine, ResponseCache
from archon_async.callpath._cache import request_key
from archon_async.simulate import SimulatedServer, SimulationSettings, _simulator
from tests.callpath.test_cache import architecture
from tests.cli_process import described, expect_status, run_cli, start_cli
from tests.conftest import FakeProvider

KEY = request_key("Wire", "https://a/v1", ChatRequest(model="m", model_type="X", messages=[]))


def _reply(text: str) -> ChatResponse:
    return ChatResponse(text=text, model="m")


async def test_a_reply_stored_first_by_another_process_wins_and_is_returned(
    tmp_path: Path,
) -> None:
    first, second = ResponseCache(tmp_path / "c.sqlite"), ResponseCache(tmp_path / "c.sqlite")
    assert [r.text for r in await first.keep(KEY, [0, 1], [_reply("a0"), _reply("a1")])] == [
        "a0",
        "a1",
    ]
    kept = await second.keep(KEY, [1, 2], [_reply("b1"), _reply("b2")])
    assert [r.text for r in kept] == ["a1", "b2"]  # sample 1 was the first's; 2 is new
    first.close()
    second.close()


async def test_an_engine_goes_on_with_the_sample_another_process_kept_first(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.sqlite"
    other = ResponseCache(path)  # another process, whose claim had lapsed: it wrote first

    async def racing(request: ChatRequest) -> str:
        cached = calls._cached
        assert cached is not None
        key = cached.address(request)
        other.put(key, 0, _reply("the other process's sample"))
        other.flush()
        return "this process's sample"

    provider = FakeProvider(racing)
    cache = ResponseCache(path)
    async with CallPath(cache=cache) as calls:
        engine = Engine(architecture(provider, 1), callpath=calls)
        result = await engine.generate("q")
    assert len(provider.requests) == 1
    # What this run answered is what the cache holds, so a rerun finds the same.
    assert list(result.candidates) == ["the other process's sample"]
    other.close()


async def test_a_request_in_flight_in_another_process_is_waited_for_not_sent(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.sqlite"

    async def slow(request: ChatRequest) -> str:
        await anyio.sleep(0.5)
        return f"reply {len(provider.requests)}"

    provider = FakeProvider(slow)
    async with (
        CallPath(cache=ResponseCache(path)) as one,
        CallPath(cache=ResponseCache(path)) as two,
    ):
        engines = [Engine(architecture(provider, 3), callpath=c) for c in (one, two)]
        results = await asyncio.gather(*(e.generate("q") for e in engines))
    assert len(provider.requests) == 3  # three samples, drawn once for both
    assert results[0].candidates == results[1].candidates
    assert sorted(r.trace.cache_hits for r in results) == [0, 3]


def _claim_by(path: Path, pid: int, until: float) -> None:
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ("default", KEY, 0, f"host:{pid}:x", os.uname().nodename, pid, time.time(), until),
        )


async def test_claims_of_a_dead_process_or_a_lapsed_lease_are_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    alive = await anyio.open_process([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = await anyio.open_process([sys.executable, "-c", "pass"])
    await dead.wait()
    try:
        _claim_by(path, alive.pid, time.time() + 60)
        claimed = await cache.claim(KEY, [0])
        assert claimed.busy == [0] and claimed.mine == []  # alive and within its lease
        _claim_by(path, alive.pid, time.time() - 1)
        assert (await cache.claim(KEY, [0])).mine == [0]  # its lease lapsed
        _claim_by(path, dead.pid, time.time() + 60)
        assert (await cache.claim(KEY, [0])).mine == [0]  # its process is gone: at once
        cache.release(KEY, [0])
        cache.flush(10.0)  # a release is queued to the writer thread: written before we look
        other = ResponseCache(path)
        assert (await other.claim(KEY, [0])).mine == [0]  # released: free for anyone
        other.close()
    finally:
        alive.kill()
        await alive.wait()
    cache.close()


def test_a_closed_cache_leaves_no_claim_behind(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)

    async def claim() -> None:
        assert (await cache.claim(KEY, [0, 1])).mine == [0, 1]

    anyio.run(claim)
    cache.close()
    import sqlite3

    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM claims").fetchone() == (0,)


@pytest.fixture
def bodies(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every request body the simulated server receives (a counting server)."""
    seen: list[bytes] = []
    serve = _simulator.Simulator.serve

    async def counted(self: Any, request: Any, wire: Any) -> Any:
        body = await request.json()
        seen.append(orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
        return await serve(self, request, wire)

    monkeypatch.setattr(_simulator.Simulator, "serve", counted)
    return seen


async def test_two_batch_processes_on_one_cache_send_each_request_once(
    tmp_path: Path, bodies: list[bytes]
) -> None:
    prompts = tmp_path / "in.jsonl"
    prompts.write_text("".join(f'{{"id": "q{i}", "prompt": "Question {i}?"}}\n' for i in range(24)))
    cache = tmp_path / "cache.sqlite"
    # A server this client does not know as simulated: it draws a new sample for every
    # request, so two processes drawing one sample get different replies.
    async with SimulatedServer(SimulationSettings(latency_s=0.2)) as server:

        def batch(output: str) -> list[str]:
            return [
                "batch", "--input", str(prompts), "--output", str(tmp_path / output),
                "--cache", str(cache), "--base-url", f"{server.base_url}/v1", "--model", "m",
                "--concurrency", "4",
            ]  # fmt: skip

        def both() -> list[subprocess.CompletedProcess[str]]:
            logs = tmp_path / "logs"
            with (
                start_cli(*batch("a.jsonl"), logs=logs, env_without_keys=True) as one,
                start_cli(*batch("b.jsonl"), logs=logs, env_without_keys=True) as two,
            ):
                return [one.finish(), two.finish()]

        pair = await anyio.to_thread.run_sync(both)
        for done in pair:
            expect_status(done, 0)
        sent = len(bodies)
        # Each prompt's 4 requests once, as one process alone sends them: two generators
        # of 5 samples (one request: samples 0-4 and 5-9 of it), a ranker, a fuser.
        stories = "\n".join(described(done) for done in pair)
        assert sent == 24 * 4 and len(set(bodies)) == 24 * 3, stories
        third = await anyio.to_thread.run_sync(
            lambda: run_cli(*batch("c.jsonl"), env_without_keys=True)
        )
        expect_status(third, 0)
        assert len(bodies) == sent, described(third)  # a third run on the cache sends nothing

    def answers(name: str) -> dict[str, str]:
        lines = (tmp_path / name).read_bytes().splitlines()
        return {line["id"]: line["answer"] for line in map(orjson.loads, lines)}

    assert answers("a.jsonl") == answers("b.jsonl") == answers("c.jsonl")
