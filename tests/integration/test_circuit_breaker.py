"""A proposer that never answers: its circuit opens and the layer goes on without it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from archon_async import Engine
from tests.local_http import serving


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Counter[str]]]:
    """An OpenAI-compatible server on 127.0.0.1 whose model "dead" never answers."""
    received: Counter[str] = Counter()

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        model = body["model"]
        received[model] += 1
        if model == "dead":
            await asyncio.sleep(60)  # cancelled when the client gives up
        content = f"answer from {model}"
        return web.json_response(
            {
                "id": "x",
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 3},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    async with serving(app) as url:
        yield f"{url}/v1", received


def moa(base_url: str) -> dict[str, Any]:
    def generator(model: str) -> dict[str, Any]:
        return {
            "type": "generator",
            "model": model,
            "model_type": "OpenAI_Compatible",
            "temperature": 0.7,
            "max_tokens": 64,
            "samples": 1,
        }

    fuser = {
        "type": "fuser",
        "model": "fuser",
        "model_type": "OpenAI_Compatible",
        "temperature": 0.7,
        "max_tokens": 64,
        "samples": 1,
    }
    return {
        "name": "moa",
        "layers": [[generator("alive-1"), generator("dead"), generator("alive-2")], [fuser]],
        "providers": {
            "OpenAI_Compatible": {"base_url": base_url, "timeout_s": 0.5, "max_retries": 4}
        },
    }


async def test_a_dead_proposer_stops_being_retried_and_the_fuser_runs(
    server: tuple[str, Counter[str]],
) -> None:
    base_url, received = server
    async with Engine(moa(base_url)) as engine:
        result = await engine.generate("What is 2+2?")
        # Two timeouts in a row opened the circuit: no third attempt of the four allowed.
        assert received["dead"] == 2
        assert received["fuser"] == 1 and result.text == "answer from fuser"
        dead = result.trace.layers[0].components[1]
        (call,) = dead.calls
        assert call.error is not None and call.error.startswith("CircuitOpenError")
        assert "stopped retrying" in call.error and call.retries == 1
        fuser_prompt = result.trace.layers[1].components[0]
        assert fuser_prompt.calls[0].error is None

        # While the circuit is open, the next prompt does not call the dead model at all.
        again = await engine.generate("And 3+3?")
        assert received["dead"] == 2 and again.text == "answer from fuser"
        skipped = again.trace.layers[0].components[1]
        assert skipped.calls == [] and skipped.error is not None
        assert "CircuitOpenError" in skipped.error and "trial call" in skipped.error
