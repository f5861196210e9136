"""The self-hosted servers the README names say "the prompt is too long" in words of their
own, over real HTTP; each is a context-length error that moves to the ``context_window``
fallback, sent once (a refusal, not a fault). They were not read as one: llama.cpp's
server ("the request exceeds the available context size", type exceed_context_size_error:
a 400, or a 500 in its builds of late 2025) and text-generation-inference (a 422, "Input
validation error: `inputs` tokens + `max_new_tokens` must be <= 4096"). The 400 and the
422s failed the component with no fallback; llama.cpp's 500 was retried as a server
fault, tripped the model's circuit and went to the ``unavailable`` fallback, and a search
stopped on it as a provider outage that no rerun could get past."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from archon_async import Architecture, Engine
from tests.local_http import serving

LLAMA_CPP = {
    "code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": 1407, "n_ctx": 256,
    "message": "the request exceeds the available context size. try increasing the context "
    "size or enable context shift",
}  # fmt: skip
REFUSALS: dict[str, tuple[int, dict[str, Any]]] = {
    "llama.cpp": (400, {"error": LLAMA_CPP}),
    "llama.cpp 500": (500, {"error": {**LLAMA_CPP, "code": 500}}),
    "tgi": (422, {"error": "Input validation error: `inputs` tokens + `max_new_tokens` must be "
                  "<= 4096. Given: 4000 `inputs` tokens and 500 `max_new_tokens`",
                  "error_type": "validation"}),
    "tgi inputs": (422, {"error": "Input validation error: `inputs` must have less than 1024 "
                         "tokens. Given: 1168", "error_type": "validation"}),
}  # fmt: skip


@asynccontextmanager
async def server(style: str) -> AsyncIterator[tuple[str, list[str]]]:
    """A chat-completions server on 127.0.0.1 whose model ``small`` refuses every prompt as
    too long, in ``style``'s words; yields its base URL and the model of every request."""
    asked: list[str] = []

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        asked.append(body["model"])
        if body["model"] == "small":
            status, refusal = REFUSALS[style]
            return web.json_response(refusal, status=status)
        message = {"role": "assistant", "content": f"answered by {body['model']}"}
        usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        reply = {"object": "chat.completion", "model": body["model"], "usage": usage}
        return web.json_response({**reply, "choices": [choice]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    async with serving(app) as url:
        yield f"{url}/v1", asked


@pytest.mark.parametrize("style", list(REFUSALS))
async def test_a_self_hosted_context_refusal_moves_to_the_context_fallback(style: str) -> None:
    generator = {"type": "generator", "model": "small", "model_type": "OpenAI_Compatible",
                 "fallbacks": {"context_window": ["big"], "unavailable": ["backup"]}}  # fmt: skip
    async with server(style) as (url, asked):
        architecture = Architecture.from_dict({"name": "ctx", "layers": [[generator]]})
        async with Engine(architecture.with_overrides(base_url=url)) as engine:
            result = await engine.generate("a long question")
    assert result.text == "answered by big"
    assert asked == ["small", "big"]  # refused once: not retried as a server fault
    notes = [n for n in result.trace.layers[0].components[0].notes if n["event"] == "fallback"]
    assert [note["trigger"] for note in notes] == ["context_window"]
