"""Self-hosted servers that do not take ``n``, over real HTTP: llama.cpp's server refuses
it with a 500 ("Only one completion choice is allowed"), llama-cpp-python's answers one
choice whatever ``n`` asked. The default architecture (two generators of 5 samples) failed
every prompt on both: the 500 was retried as a server fault and then failed the component,
the short reply was retried as malformed (4 attempts) and then failed it. Now the refusal
is read as one, the short reply's choice kept, and the rest drawn one a request."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from archon_async import Architecture, Engine
from archon_async._defaults import DEFAULT_ARCHITECTURE
from tests.local_http import serving

_RANK = re.compile(r"Rank all (\d+) candidates")


def _reply(text: str, index: int) -> str:
    ranked = _RANK.search(text)
    if ranked:  # the ranker's answer, in the form it parses
        return "Ranking: " + " > ".join(f"[{j}]" for j in range(1, int(ranked[1]) + 1))
    return f"Answer {index}: 391."


@asynccontextmanager
async def server(style: str) -> AsyncIterator[tuple[str, list[int]]]:
    """A chat-completions server on 127.0.0.1 that does not take ``n``, as ``style`` says;
    yields its base URL and the ``n`` of every request it got."""
    asked: list[int] = []

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        n = int(body.get("n") or 1)
        asked.append(n)
        if style == "llama.cpp" and n != 1:
            error = {"code": 500, "message": "Only one completion choice is allowed",
                     "type": "server_error"}  # fmt: skip
            return web.json_response({"error": error}, status=500)
        text = " ".join(str(message["content"]) for message in body["messages"])
        reply: dict[str, Any] = {
            "id": "x", "object": "chat.completion", "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": _reply(text, len(asked))}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }  # fmt: skip
        return web.json_response(reply)  # one choice, whatever n asked

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    async with serving(app) as url:
        yield f"{url}/v1", asked


@pytest.mark.parametrize("style", ["llama.cpp", "ignores n"])
async def test_the_default_architecture_answers_on_a_server_without_n(style: str) -> None:
    architecture = Architecture.from_dict(DEFAULT_ARCHITECTURE)
    async with server(style) as (url, asked):
        pointed = architecture.with_overrides(base_url=url, model="local")
        async with Engine(pointed) as engine:
            result = await engine.generate("What is 17 * 23?")
            first = list(asked)
            again = await engine.generate("What is 18 * 23?")
    generators = result.trace.layers[0].components
    drawn = [call for component in generators for call in component.calls if not call.error]
    assert len(drawn) == 10 and result.text
    # One generator asked n=5 once (the probe: the other, of the same model, waited for its
    # verdict), never again; nothing retried.
    assert sorted(first) == [1] * (12 - (style == "ignores n")) + [5]
    calls = [call for layer in result.trace.layers for c in layer.components for call in c.calls]
    if style == "llama.cpp":  # the refusal is a failed call of the trace
        failed = [call for call in calls if call.error]
        assert len(failed) == 1 and all("one completion choice" in c.error for c in failed)
    else:
        assert not any(call.error for call in calls)
    assert all(call.retries == 0 for call in calls)
    assert again.text and asked[len(first) :] == [1] * 12  # remembered: 12 requests of 1
