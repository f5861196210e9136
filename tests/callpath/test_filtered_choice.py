"""One choice of an ``n`` > 1 reply without text, over real HTTP: OpenAI and Azure give each
choice its own ``finish_reason``, and a content filter blocks one sample of five as
``{"content": null, "finish_reason": "content_filter"}`` while the others answer. The whole
request failed (the four answers paid for and dropped: with no fallback the component
failed, with one all five samples were drawn again from it), where five requests of one
sample lose only the one. Now the choice is its own failed sample: the others are kept, a
fallback draws only it, and it is not cached (a rerun asks for it alone)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from archon_async import Architecture, CallPath, Engine
from tests.local_http import serving


@asynccontextmanager
async def server() -> AsyncIterator[tuple[str, list[tuple[str, int]]]]:
    """A chat-completions server on 127.0.0.1 whose model ``strict`` filters the first
    choice of every reply; yields its base URL and the (model, n) of every request."""
    asked: list[tuple[str, int]] = []

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        n = int(body.get("n") or 1)
        asked.append((body["model"], n))
        choices: list[dict[str, Any]] = []
        for index in range(n):
            if body["model"] == "strict" and index == 0:
                message = {"role": "assistant", "content": None}
                choices.append({"index": index, "message": message,
                                "finish_reason": "content_filter"})  # fmt: skip
            else:
                message = {"role": "assistant", "content": f"{body['model']} {len(asked)}.{index}"}
                choices.append({"index": index, "message": message, "finish_reason": "stop"})
        usage = {"prompt_tokens": 10, "completion_tokens": 4 * n, "total_tokens": 10 + 4 * n}
        reply = {"id": "x", "object": "chat.completion", "model": body["model"]}
        return web.json_response({**reply, "choices": choices, "usage": usage})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    async with serving(app) as url:
        yield f"{url}/v1", asked


def _architecture(url: str, fallbacks: dict[str, Any] | None = None) -> Architecture:
    generator: dict[str, Any] = {
        "type": "generator", "model": "strict", "model_type": "OpenAI_Compatible",
        "base_url": url, "samples": 5,
    }  # fmt: skip
    if fallbacks:
        generator["fallbacks"] = fallbacks
    return Architecture.from_dict({"name": "filtered", "layers": [[generator]]})


async def test_a_filtered_choice_fails_alone() -> None:
    async with server() as (url, asked), Engine(_architecture(url)) as engine:
        result = await engine.generate("a question")
    assert asked == [("strict", 5)]
    component = result.trace.layers[0].components[0]
    assert len(result.candidates) == 4 and component.error is None
    assert all(text.startswith("strict 1.") for text in result.candidates)
    failed = [call for call in component.calls if call.error]
    assert len(component.calls) == 5 and len(failed) == 1
    assert failed[0].finish_reason == "content_filter" and "content filter" in failed[0].error
    assert result.trace.totals()["output_tokens"] == 20  # what the request was billed


async def test_a_fallback_draws_only_the_filtered_choice() -> None:
    architecture = _architecture("", {"content_policy": ["lenient"]})
    async with server() as (url, asked):
        pointed = architecture.with_overrides(base_url=url)
        async with Engine(pointed) as engine:
            result = await engine.generate("a question")
    assert asked == [("strict", 5), ("lenient", 1)]
    assert sorted(text.split()[0] for text in result.candidates) == ["lenient"] + ["strict"] * 4
    notes = result.trace.layers[0].components[0].notes
    fallback = [note for note in notes if note["event"] == "fallback"]
    assert len(fallback) == 1 and fallback[0]["samples"] == 1


async def test_a_filtered_choice_is_not_cached(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    async with server() as (url, asked):
        for _ in range(2):
            async with CallPath(cache=cache) as calls:
                async with Engine(_architecture(url), callpath=calls) as engine:
                    result = await engine.generate("a question")
            assert len(result.candidates) == 4
    # The rerun asks again for the sample the filter blocked, and only for it.
    assert asked == [("strict", 5), ("strict", 1)]
