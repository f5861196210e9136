"""Measure 3's engine levels in one process, with the HTTP replaced: the engine's own Python.

`AiohttpTransport.post_whole` (the providers' POST) is replaced by a coroutine that yields
one loop turn and returns the simulator's reply (the same body and headers), so that a
call's CPU is everything but aiohttp's. Levels as in `bench.clients.parts` (``provider``,
``dispatch``, ``callpath``, ``generate``) plus ``batch`` (`run_batch`, as
`bench.clients.engine` runs it) and ``bare`` (bare aiohttp's own client code: the body's
JSON, the replaced POST, the reply's JSON). Each level runs ``--calls`` calls with 64 in
flight, ``--repeat`` times alternated with the others; prints microseconds of CPU a call,
medians.

    python bench/cpu_inprocess.py [--levels bare,provider,...] [--calls 8000] [--repeat 5]
        [--profile LEVEL]   # cProfile of one level's run, top functions by own time
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import structlog
from multidict import CIMultiDict, CIMultiDictProxy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archon_async import Engine
from archon_async._aiohttp_transport import AiohttpTransport, WholeReply
from archon_async._batch import run_batch
from bench._common import load_shape_config
from bench.clients import _raw
from bench.clients.engine import _items
from bench.clients.parts import _caller

LEVELS = ("bare", "provider", "dispatch", "callpath", "generate", "batch")
_TEXT = "(simulated reply from the archon-async simulator)\n" + "Words of a reply. " * 20
_BODY = orjson.dumps(
    {
        "id": "chatcmpl-681aedc4304f9d58",
        "object": "chat.completion",
        "created": 1796070403,
        "model": "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _TEXT, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 86, "total_tokens": 96},
        "system_fingerprint": "fp_simulated",
    }
)
_HEADERS = CIMultiDictProxy(
    CIMultiDict(
        [
            ("x-request-id", "req_sim0000000000000001"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(_BODY))),
            ("Date", "Mon, 30 Nov 2026 20:26:43 GMT"),
            ("Server", "Python/3.11 aiohttp/3.14.5"),
        ]
    )
)


async def _post(*args: Any) -> WholeReply:
    await asyncio.sleep(0)  # the reply comes on a later loop turn, as over a socket
    return WholeReply(200, _HEADERS, _BODY, "OK")


async def _bare(model: str, messages: list[dict[str, str]]) -> str:
    # bench/clients/aiohttp_raw.py's call, its session.post replaced as the engine's is.
    body = orjson.dumps(
        {"model": model, "messages": messages, "temperature": 0.7, "max_tokens": 2048}
    )
    reply = orjson.loads((await _post(body)).content)
    return str(reply["choices"][0]["message"]["content"])


async def _run(engine: Engine, level: str, calls: int) -> float:
    """CPU microseconds a call of one run of ``level``."""
    gc.collect()
    started = time.process_time()
    if level == "batch":
        with tempfile.TemporaryDirectory() as scratch, open(os.devnull, "w") as quiet:
            await run_batch(
                engine,
                _items(calls),
                Path(scratch) / "answers.jsonl",
                total=calls,
                concurrency=64,
                progress=quiet,
                unique_ids=True,
            )
    else:
        call = _bare if level == "bare" else _caller(engine, level)
        await _raw.run_batch(call, "single", calls, 64)
    return (time.process_time() - started) / calls * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default=",".join(LEVELS))
    parser.add_argument("--calls", type=int, default=8000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", choices=LEVELS)
    args = parser.parse_args()
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        cache_logger_on_first_use=True,
    )
    AiohttpTransport.post_whole = _post  # type: ignore[method-assign,assignment]
    engine = Engine(
        load_shape_config("single"),
        keys={"OPENAI_API_KEY": ["sim-key"]},
        providers={"OpenAI_API": {"base_url": "http://127.0.0.1:9", "max_concurrency": 64}},
    )
    async with engine:
        for level in LEVELS:
            await _run(engine, level, 500)  # warm-up
        gc.collect()
        gc.freeze()
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            await _run(engine, args.profile, args.calls)
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(40)
            return
        runs: dict[str, list[float]] = {}
        levels = args.levels.split(",")
        for _ in range(args.repeat):
            for level in levels:
                runs.setdefault(level, []).append(await _run(engine, level, args.calls))
    print(f"load average {os.getloadavg()[0]:.2f}")
    for level, values in runs.items():
        shown = ", ".join(f"{v:.1f}" for v in values)
        print(f"{level:10} {statistics.median(values):7.1f} us a call  ({shown})")


if __name__ == "__main__":
    asyncio.run(main())
