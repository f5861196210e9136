"""The provider's path step by step over real HTTP, alternated in one process (issue 12).

Against one simulator (latency 0), round after round, each variant answers ``--calls``
calls with 64 in flight in bare aiohttp's worker loop (`bench/clients/_raw.py`); its CPU
microseconds a call, medians and pair ratios to bare aiohttp. One process, so that the
variants share the interpreter, the heap (frozen after warm-up) and the machine's load:

* ``bare``: bare aiohttp + orjson (`bench/clients/aiohttp_raw.py`'s call);
* ``post_whole``: the engine's transport (`AiohttpTransport.post_whole`) + orjson;
* ``post_whole_pieces``: the same with the body read in 256 KiB pieces (the read before
  the seventh pass of measure 3, kept here to compare);
* ``level1``, ``level3``: ``post_whole`` under one and three empty coroutine levels;
* ``post_json``: `HttpProvider.post_json` (headers, URL lookup, rate-limit headers, JSON);
* ``parse``: ``post_json`` and `OpenAIChatProvider.parse`;
* ``send``: `OpenAIChatProvider.send` (the request, its wire body, all of the above).

    python bench/transport_steps.py [--rounds 7] [--calls 2000] [--variants bare,send,...]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archon_async import Engine
from archon_async._aiohttp_transport import _CHUNK_BYTES, AiohttpTransport, _too_large
from archon_async._types import ChatRequest
from bench._common import load_shape_config, server
from bench.clients import _raw

Call = Callable[[str, list[dict[str, str]]], Awaitable[str]]
VARIANTS = (
    "bare",
    "post_whole",
    "post_whole_pieces",
    "level1",
    "level3",
    "post_json",
    "parse",
    "send",
)


async def _read_in_pieces(self: AiohttpTransport, reply: Any, request: Any) -> bytes:
    """The body read as before the seventh pass: in pieces, under the cap."""
    cap = self._max_reply_bytes
    if cap is None:
        return bytes(await reply.read())
    if reply.content_length is not None and reply.content_length > cap:
        reply.close()
        raise _too_large(request, cap)
    body = bytearray()
    async for chunk in reply.content.iter_chunked(_CHUNK_BYTES):
        body += chunk
        if len(body) > cap:
            reply.close()
            raise _too_large(request, cap)
    return bytes(body)


def _variants(engine: Engine, session: aiohttp.ClientSession, base: str) -> dict[str, Call]:
    provider: Any = engine.dispatcher.provider_for("OpenAI_API")
    transport, timeouts = provider.client._transport, provider.client.timeout
    url = f"{base}/chat/completions"
    bare_headers = {"Authorization": "Bearer sim-key", "Content-Type": "application/json"}
    headers = {"content-type": "application/json", "accept": "application/json"}
    headers["authorization"] = "Bearer sim-key"

    def body(model: str, messages: list[dict[str, str]]) -> dict[str, Any]:
        return {"model": model, "messages": messages, "temperature": 0.7, "max_tokens": 2048}

    def request(model: str, messages: list[dict[str, str]]) -> ChatRequest:
        return ChatRequest(
            model=model,
            model_type="OpenAI_API",
            messages=tuple(messages),
            temperature=0.7,
            max_tokens=2048,
        )

    async def bare(model: str, messages: list[dict[str, str]]) -> str:
        async with session.post(
            url, data=orjson.dumps(body(model, messages)), headers=bare_headers
        ) as response:
            response.raise_for_status()
            reply = orjson.loads(await response.read())
        return str(reply["choices"][0]["message"]["content"])

    async def post_whole(model: str, messages: list[dict[str, str]]) -> str:
        content = orjson.dumps(body(model, messages))
        reply = await transport.post_whole(url, content, headers, timeouts)
        return str(orjson.loads(reply.content)["choices"][0]["message"]["content"])

    async def level1(model: str, messages: list[dict[str, str]]) -> str:
        return await post_whole(model, messages)

    async def level2(model: str, messages: list[dict[str, str]]) -> str:
        return await level1(model, messages)

    async def level3(model: str, messages: list[dict[str, str]]) -> str:
        return await level2(model, messages)

    async def post_json(model: str, messages: list[dict[str, str]]) -> str:
        data, _ = await provider.post_json(
            request(model, messages), url, body(model, messages), headers=headers
        )
        return str(data["choices"][0]["message"]["content"])

    async def parse(model: str, messages: list[dict[str, str]]) -> str:
        asked = request(model, messages)
        data, limits = await provider.post_json(asked, url, body(model, messages), headers=headers)
        return str(provider.parse(asked, data, limits).text)

    async def send(model: str, messages: list[dict[str, str]]) -> str:
        return str((await provider.send(request(model, messages), api_key="sim-key")).text)

    return {
        "bare": bare,
        "post_whole": post_whole,
        "post_whole_pieces": post_whole,  # with the old read swapped in around it
        "level1": level1,
        "level3": level3,
        "post_json": post_json,
        "parse": parse,
        "send": send,
    }


async def _measure(base: str, names: list[str], rounds: int, calls: int) -> dict[str, list[float]]:
    engine = Engine(
        load_shape_config("single"),
        keys={"OPENAI_API_KEY": ["sim-key"]},
        providers={"OpenAI_API": {"base_url": base, "max_concurrency": 64}},
    )
    read_once = AiohttpTransport._read_body
    runs: dict[str, list[float]] = {name: [] for name in names}
    connector = aiohttp.TCPConnector(limit=64, limit_per_host=64)
    async with engine, aiohttp.ClientSession(connector=connector) as session:
        await engine.generate("open the call path")
        variants = _variants(engine, session, base)
        for name in names:
            await _raw.run_batch(variants[name], "single", 300, 64)  # warm-up
        gc.collect()
        gc.freeze()
        for _ in range(rounds):
            for name in names:
                pieces = name == "post_whole_pieces"
                AiohttpTransport._read_body = _read_in_pieces if pieces else read_once  # type: ignore[method-assign]
                started = time.process_time()
                await _raw.run_batch(variants[name], "single", calls, 64)
                runs[name].append((time.process_time() - started) / calls * 1e6)
        AiohttpTransport._read_body = read_once  # type: ignore[method-assign]
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    names = args.variants.split(",")
    if "bare" not in names:
        names.insert(0, "bare")
    load = os.getloadavg()[0]
    with server(0.0) as srv:
        runs = asyncio.run(_measure(srv.root, names, args.rounds, args.calls))
    print(f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    for name, values in runs.items():
        ratio = statistics.median(v / b for v, b in zip(values, runs["bare"], strict=True))
        shown = ", ".join(f"{v:.0f}" for v in values)
        print(f"{name:18} {statistics.median(values):6.1f} us a call  x{ratio:.3f}  ({shown})")


if __name__ == "__main__":
    main()
