"""The probe for ``n``: until a (model_type, model) is known to take ``n`` or not, its first
request of several samples goes alone and the others wait for its verdict. Before, every
prompt in flight asked ``n`` of a refusing server before the first refusal was learnt
(about 14 wasted requests at a batch's default concurrency), each counted by an rpm limit."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from structlog.testing import capture_logs

from archon_async import Architecture, Engine
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from archon_async._progress import BatchStats
from archon_async.simulate import ModelSettings, SimulatedServer, SimulationSettings
from tests.local_http import serving

PROMPTS = 20


def five_samples(model_type: str = "OpenAI_API") -> dict[str, Any]:
    spec = {"type": "generator", "model": "m", "model_type": model_type, "max_tokens": 16,
            "samples": 5}  # fmt: skip
    return {"name": "five-samples", "layers": [[spec]]}


def items() -> list[BatchItem]:
    return [
        BatchItem(id=f"q{i}", messages=[{"role": "user", "content": f"question {i}"}])
        for i in range(PROMPTS)
    ]


async def batch(engine: Engine, output: Path) -> BatchStats:
    """The batch at concurrency 16; a waiter left hanging fails the test, not the session."""
    run = run_batch(engine, items(), output, total=PROMPTS, concurrency=16, progress=io.StringIO())
    return await asyncio.wait_for(run, timeout=60)


async def test_a_refusing_server_is_asked_n_once_in_a_batch(tmp_path: Path) -> None:
    settings = SimulationSettings(
        request_log=1000, latency_s=0.02, models={"m": ModelSettings(max_n=1)}
    )
    async with SimulatedServer(settings) as server:
        engine = Engine(five_samples(), simulate=server.base_url)
        stats = await batch(engine, tmp_path / "out.jsonl")
        asked = [record.n for record in server.request_log()]
        refused = server.stats().bad_requests
    assert sum(n > 1 for n in asked) == 1 and refused == 1  # the probe alone
    assert asked.count(1) == PROMPTS * 5  # every sample drawn one a request
    summary = stats.summary()
    assert summary["answered"] == PROMPTS and summary["failed"] == 0
    assert summary["requests"] == PROMPTS * 5 + 1 == len(asked)


async def test_a_refused_probe_is_logged_as_the_fallback_not_a_warning(tmp_path: Path) -> None:
    """The refusal of the probe is the call path's expected fallback (one request a
    sample from then on): an INFO line that says so, no WARNING at all for the batch."""
    settings = SimulationSettings(request_log=1000, models={"m": ModelSettings(max_n=1)})
    async with SimulatedServer(settings) as server:
        engine = Engine(five_samples(), simulate=server.base_url)
        with capture_logs() as logs:
            stats = await batch(engine, tmp_path / "out.jsonl")
    assert stats.summary()["answered"] == PROMPTS
    assert {entry["log_level"] for entry in logs} <= {"debug", "info"}
    (probe,) = [entry for entry in logs if entry["event"] == "provider_call" and "next" in entry]
    assert (probe["status"], probe["next"]) == (400, "separate_requests")
    (learnt,) = [entry for entry in logs if entry["event"] == "n_refused"]
    assert (learnt["n"], learnt["most"]) == (5, 1)


async def test_once_n_is_taken_the_waiters_go_together_with_n(tmp_path: Path) -> None:
    settings = SimulationSettings(request_log=1000, latency_s=0.05)
    async with SimulatedServer(settings) as server:
        engine = Engine(five_samples(), simulate=server.base_url)
        stats = await batch(engine, tmp_path / "out.jsonl")
        asked = [record.n for record in server.request_log()]
        at_once = server.stats().in_flight_max
    assert asked == [5] * PROMPTS  # one request a prompt, every one with n
    assert at_once > 1  # the verdict known, nothing waits for a probe any more
    assert stats.summary()["answered"] == PROMPTS


@dataclass
class _Server:
    url: str
    asked: list[tuple[str, int]] = field(default_factory=list)


@asynccontextmanager
async def failing_probe() -> AsyncIterator[_Server]:
    """A chat-completions server on 127.0.0.1 that takes ``n``, but answers the first
    prompt it is asked ``n`` for with a 503, every attempt: the probe gets no verdict."""
    doomed: list[str] = []
    server = _Server(url="")

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        n = int(body.get("n") or 1)
        text = str(body["messages"][-1]["content"])
        server.asked.append((text, n))
        if n > 1 and not doomed:
            doomed.append(text)
        await asyncio.sleep(0.02)
        if text in doomed:
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        choices = [{"index": j, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": f"{text}: answer {j}"}}
                   for j in range(n)]  # fmt: skip
        usage = {"prompt_tokens": 10, "completion_tokens": 5 * n, "total_tokens": 10 + 5 * n}
        reply = {"id": "x", "object": "chat.completion", "model": body["model"],
                 "choices": choices, "usage": usage}  # fmt: skip
        return web.json_response(reply)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    async with serving(app) as url:
        server.url = f"{url}/v1"
        yield server


async def test_a_probe_without_a_verdict_releases_the_waiters(tmp_path: Path) -> None:
    """The probe's prompt fails on 503s (retried, then given up); the prompts waiting for
    its verdict go as if none had gone, asking ``n``: the batch ends, nothing is lost."""
    architecture = Architecture.from_dict(five_samples())
    async with failing_probe() as server:
        pointed = architecture.with_overrides(base_url=server.url, model="local")
        providers = {"OpenAI_Compatible": {"base_url": server.url, "max_retries": 1,
                                           "circuit_failures": 0}}  # fmt: skip
        engine = Engine(pointed, providers=providers)
        stats = await batch(engine, tmp_path / "out.jsonl")
    doomed = server.asked[0][0]
    summary = stats.summary()
    assert summary["answered"] == PROMPTS - 1 and summary["failed"] == 1  # reported
    others = [n for text, n in server.asked if text != doomed]
    assert others == [5] * (PROMPTS - 1)  # released, they asked n and were answered
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    failed = [line["id"] for line in lines if "error" in line]
    assert len(lines) == PROMPTS and failed == [f"q{doomed.split()[-1]}"]
