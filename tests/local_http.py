"""Serve a test's aiohttp application on a free port of 127.0.0.1 (tests never go further)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

__all__ = ["chat_completion", "counting_server", "serving"]


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Run ``app`` until the block ends; yields its base URL, ``http://127.0.0.1:PORT``.

    Handlers still running at the end are given 0.1 s (a streaming test's endless reply
    must not hold the test's teardown for aiohttp's default minute).
    """
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def chat_completion(text: str) -> web.Response:
    """An OpenAI chat completion of one choice, ``text``, as a server answers it."""
    return web.json_response(
        {
            "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        }
    )


def counting_server(seen: list[str | None]) -> web.Application:
    """An OpenAI chat-completions endpoint answering "hello" that appends each request's
    ``Authorization`` header to ``seen`` (so a test can count the calls and see the key)."""

    async def chat(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return chat_completion("hello")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app
