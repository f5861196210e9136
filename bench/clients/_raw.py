"""What the hand-written baselines share: the architectures' data flow and the worker pool.

A baseline supplies one coroutine, ``call(model, messages) -> text``, with its own HTTP
client and admission control; this module runs prompts through the same layers as the
shipped configs (same number of calls, same dependencies between layers, prompts that carry
the previous layer's answers) without any of the engine's machinery.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench._common import CALLS_PER_PROMPT, Phase, settle_heap, write_result

Call = Callable[[str, list[dict[str, str]]], Awaitable[str]]

MODELS = ("meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo", "Qwen/Qwen2-72B-Instruct")


def base_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every client takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--mode", choices=("batch", "query"), default="batch")
    parser.add_argument("--shape", choices=tuple(CALLS_PER_PROMPT), default="default")
    parser.add_argument("--n", type=int, default=100, help="prompts (batch) or queries (query)")
    parser.add_argument("--workers", type=int, default=64, help="prompts in flight")
    parser.add_argument("--inflight", type=int, default=256, help="calls in flight = pool size")
    parser.add_argument("--warmup", type=int, default=20, help="calls made before measuring")
    return parser


def _user(query: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": query}]


def _ranker_messages(query: str, candidates: list[str]) -> list[dict[str, str]]:
    listed = "\n\n".join(f"[{i}] {text}" for i, text in enumerate(candidates, start=1))
    text = (
        f"Order these {len(candidates)} answers to the question from best to worst; reply "
        f"with their numbers only, like [2] > [1].\n\nQuestion: {query}\n\n{listed}"
    )
    return _user(text)


def _fuser_messages(query: str, candidates: list[str]) -> list[dict[str, str]]:
    listed = "\n\n".join(f"{i}. {text}" for i, text in enumerate(candidates, start=1))
    text = (
        "Here are answers from several models. Write one answer that keeps what is right in "
        f"them.\n\n{listed}\n\nQuestion: {query}"
    )
    return _user(text)


async def run_prompt(call: Call, shape: str, query: str) -> str:
    """One prompt through the architecture ``shape``: layers run one after another."""
    if shape == "single":
        return await call(MODELS[0], _user(query))
    if shape == "default":
        samples = [call(MODELS[i // 5], _user(query)) for i in range(10)]
        candidates = list(await asyncio.gather(*samples))
        await call(MODELS[1], _ranker_messages(query, candidates))
        return await call(MODELS[1], _fuser_messages(query, candidates[:5]))
    proposals = list(await asyncio.gather(*(call(MODELS[i % 2], _user(query)) for i in range(4))))
    fused = [call(MODELS[i % 2], _fuser_messages(query, proposals)) for i in range(3)]
    return await call(MODELS[1], _fuser_messages(query, list(await asyncio.gather(*fused))))


async def run_batch(call: Call, shape: str, n: int, workers: int) -> int:
    """``n`` prompts, ``workers`` of them in flight; returns how many failed."""
    next_index = 0
    failed = 0

    async def worker() -> None:
        nonlocal next_index, failed
        while next_index < n:
            index = next_index
            next_index += 1
            try:
                await run_prompt(call, shape, f"Question number {index}: what is {index} * 7?")
            except Exception:
                failed += 1

    await asyncio.gather(*(worker() for _ in range(workers)))
    return failed


async def measure(call: Call, args: argparse.Namespace, extra: dict[str, Any]) -> None:
    """Warm up, run the mode the arguments ask for, and write the result file."""
    await asyncio.gather(*(call(MODELS[0], _user("warm-up")) for _ in range(args.warmup)))
    settle_heap()
    if args.mode == "query":
        walls = []
        phase = Phase()
        with phase:
            for index in range(args.n):
                started = time.perf_counter()
                await run_prompt(call, args.shape, f"Query {index}: name three prime numbers.")
                walls.append(time.perf_counter() - started)
        write_result(args.result, phase, walls=walls, **extra)
        return
    phase = Phase()
    with phase:
        failed = await run_batch(call, args.shape, args.n, args.workers)
    calls = args.n * CALLS_PER_PROMPT[args.shape]
    write_result(args.result, phase, prompts=args.n, calls=calls, failed=failed, **extra)
