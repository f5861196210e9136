"""A half-open circuit's trial call that is cancelled (a client that left, a first_k scan
done, a batch left early) frees the trial: the next call is the trial. The circuit kept
its trial 'in flight' for ever, and every later call to the model failed at once with
"its calls fail at once until its trial call, in flight, ends", for the process's life."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from archon_async import ArchonError, Engine
from tests.local_http import chat_completion, serving

PROVIDER = {"max_retries": 0, "timeout_s": 0.2, "circuit_failures": 2, "circuit_open_s": 0.3}


async def test_a_cancelled_trial_call_lets_the_next_call_be_the_trial() -> None:
    answering = False
    arrived = asyncio.Event()
    sent: list[str] = []

    async def chat(request: web.Request) -> web.Response:
        sent.append((await request.json())["messages"][-1]["content"])
        arrived.set()
        if not answering:
            await asyncio.sleep(30)  # the client gives up or is cancelled first
        return chat_completion("back")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    async with serving(app) as url:
        generator = {"type": "generator", "model": "m", "model_type": "OpenAI_Compatible"}
        config = {
            "layers": [[generator]],
            "providers": {"OpenAI_Compatible": {"base_url": url + "/v1", **PROVIDER}},
        }
        async with Engine(config) as engine:
            for question in ("timeout 1", "timeout 2"):  # the circuit opens
                with pytest.raises(ArchonError):
                    await engine.generate(question)
            await asyncio.sleep(0.4)  # past its cooldown: half-open
            arrived.clear()
            trial = asyncio.create_task(engine.generate("trial, cancelled"))
            await arrived.wait()
            trial.cancel()
            with pytest.raises(asyncio.CancelledError):
                await trial
            answering = True
            result = await engine.generate("after")
    assert result.text == "back"
    assert sent == ["timeout 1", "timeout 2", "trial, cancelled", "after"]
