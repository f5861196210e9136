"""A prompt that times out alone at concurrency 1 (the model answers every other prompt)
costs one circuit cooldown, not the provider-down wait. Its two timed-out attempts opened
the circuit, the batch held that prompt as its provider's outage, sent the same prompt as
every probe (it timed out each time, opening the circuit again) until the wait bound, and
then stopped, saying the provider was down."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from archon_async import Engine
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from tests.local_http import chat_completion, serving

#: Two attempts a call, each given 0.3 s; the circuit opens after 2 failures, for 0.5 s.
PROVIDER = {"max_retries": 1, "timeout_s": 0.3, "circuit_failures": 2, "circuit_open_s": 0.5}


def _server(sent: list[str]) -> web.Application:
    """An OpenAI chat-completions endpoint that answers at once, except a prompt holding
    "slow", on which it says nothing for 30 s (the client gives up first)."""

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        prompt = body["messages"][-1]["content"]
        sent.append(prompt)
        if "slow" in prompt:
            await asyncio.sleep(30)
        return chat_completion("fine")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


def _lines(path: Path) -> dict[str, dict[str, Any]]:
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return {line["id"]: line for line in lines}


async def test_a_prompt_that_times_out_alone_costs_one_cooldown(tmp_path: Path) -> None:
    sent: list[str] = []
    prompts = ["q0", "q1", "q2 slow", "q3", "q4"]
    items = [
        BatchItem(id=text.split()[0], messages=[{"role": "user", "content": text}])
        for text in prompts
    ]
    out = tmp_path / "answers.jsonl"
    async with serving(_server(sent)) as url:
        generator = {"type": "generator", "model": "m", "model_type": "OpenAI_Compatible"}
        config = {
            "layers": [[generator]],
            "providers": {"OpenAI_Compatible": {"base_url": url + "/v1", **PROVIDER}},
        }
        stats = await run_batch(
            Engine(config), items, out, total=5, concurrency=1, show_progress=False,
            provider_down_wait_s=5.0,
        )  # fmt: skip
    lines = _lines(out)
    # The slow prompt's failure is its own: written, once; the others answered.
    assert stats.answered == 4 and stats.failed == 1, (stats.answered, stats.failed)
    assert sorted(lines) == ["q0", "q1", "q2", "q3", "q4"]
    # (its retry of the prompt met the circuit its own timeouts had opened)
    assert "answer" not in lines["q2"] and "CircuitOpenError" in lines["q2"]["error"]
    assert all(lines[i]["answer"] == "fine" for i in ("q0", "q1", "q3", "q4"))
    # Its two attempts and no more: the next prompt, not it, was the circuit's trial call.
    assert sent == ["q0", "q1", "q2 slow", "q2 slow", "q3", "q4"], sent
