"""Measure 3 split by layer: the engine's call path entered at one level, in bare aiohttp's loop.

The same worker pool, prompts and warm-up as `bench.clients.aiohttp_raw` (`_raw.measure`),
with its ``call(model, messages)`` made by one level of the engine instead of by aiohttp,
so that the difference between two levels is what the lower one does not do:

* ``provider``: `OpenAIChatProvider.send` (the adapter's one attempt: the wire body, its
  JSON, the POST on the shared aiohttp pool, the reply read and parsed, `ChatResponse`);
* ``dispatch``: `Dispatcher.complete` (admission gate, key lease, limits, circuit breaker,
  the attempt's retry handling, the `CallRecord`);
* ``callpath``: `CallPath.complete` (the sample numbering and the `Sender` above the
  dispatcher; no cache, no budget, as in measure 3);
* ``generate``: `Engine.generate` (the architecture: layer, component, trace, `Result`).

`bench.clients.engine` is the whole engine (`run_batch`: the feed, answer lines, budget).
The engine is built exactly as `bench.clients.engine` builds it (same config, provider
settings and keys), and every level uses that engine's own provider and dispatcher.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from archon_async import Engine
from archon_async._types import ChatRequest
from bench._common import load_shape_config
from bench.clients._raw import base_parser, measure

LEVELS = ("provider", "dispatch", "callpath", "generate")


def _caller(engine: Engine, level: str) -> Callable[[str, list[dict[str, str]]], Awaitable[str]]:
    """``call(model, messages) -> text`` entering the engine at ``level``."""
    dispatcher = engine.dispatcher
    provider = dispatcher.provider_for("OpenAI_API")

    def request(model: str, messages: list[dict[str, str]]) -> ChatRequest:
        # What the single generator asks (configs/single_model.json), built per call as the
        # component builds it.
        return ChatRequest(
            model=model,
            model_type="OpenAI_API",
            messages=tuple(messages),
            temperature=0.7,
            max_tokens=2048,
        )

    async def by_provider(model: str, messages: list[dict[str, str]]) -> str:
        return (await provider.send(request(model, messages), api_key="sim-key")).text

    async def by_dispatch(model: str, messages: list[dict[str, str]]) -> str:
        return (await dispatcher.complete(request(model, messages)))[0].text

    async def by_callpath(model: str, messages: list[dict[str, str]]) -> str:
        return (await engine.callpath.complete(request(model, messages)))[0].text

    async def by_generate(model: str, messages: list[dict[str, str]]) -> str:
        return (await engine.generate(messages)).text

    callers = {
        "provider": by_provider,
        "dispatch": by_dispatch,
        "callpath": by_callpath,
        "generate": by_generate,
    }
    return callers[level]


async def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--level", choices=LEVELS, required=True)
    args = parser.parse_args()
    if args.shape != "single":
        parser.error("the levels below the engine make one call a prompt: use --shape single")
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        cache_logger_on_first_use=True,
    )
    os.environ.setdefault("OPENAI_API_KEY", "sim-key")
    provider: dict[str, Any] = {"base_url": args.base_url, "max_concurrency": args.inflight}
    engine = Engine(
        load_shape_config(args.shape),
        keys={"OPENAI_API_KEY": ["sim-key"]},
        providers={"OpenAI_API": provider},
    )
    async with engine:
        await engine.generate("open the call path")
        extra = {"client": f"engine-{args.level}", "inflight": args.inflight}
        await measure(_caller(engine, args.level), args, extra)


if __name__ == "__main__":
    asyncio.run(main())
