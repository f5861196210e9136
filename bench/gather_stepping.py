"""Is `gather_map`'s hand-stepping worth it? A fully cached rerun, against a task group.

    .venv/bin/python bench/gather_stepping.py [--prompts 1000] [--rounds 6]

`archon_async._concurrency.gather_map` (and `gather`, `gather_settled`, which use it) runs
each call in the calling task up to its first wait (`_Started`), so that a fan-out answered
from the cache starts no task. This bench
answers a batch of ``--prompts`` prompts of the default architecture once on a new cache
(the in-process simulator), then reruns it fully cached ``--rounds`` times with each of two
`gather`s, alternated (ABBA order) so that both share the machine's load: the one in the
package, and a plain anyio task group starting one task a function (the same results, the
first failure raised as itself). It prints the medians of this process's CPU seconds per
rerun and their ratio, and the load average before and after. Every rerun must send
nothing: the bench stops with an error if the server saw a request.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio

import archon_async._concurrency as concurrency
import archon_async._context
import archon_async._layer
import archon_async.callpath._sender
from archon_async import Engine
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from archon_async._defaults import DEFAULT_ARCHITECTURE
from archon_async.simulate import SimulatedServer, SimulationSettings

#: The modules that call `gather_map` by the name they imported (`gather` and the settled
#: ones look it up in `archon_async._concurrency`).
USERS = [archon_async._context, archon_async._layer, archon_async.callpath._sender]
STEPPED = concurrency.gather_map


async def task_group_gather_map(
    fn: Callable[[Any], Awaitable[Any]], items: Sequence[Any]
) -> list[Any]:
    """`gather_map` without the hand-stepping: a task for every call (one runs alone)."""
    if len(items) <= 1:
        return [await fn(items[0])] if items else []
    results: list[Any] = [None] * len(items)

    async def run(index: int) -> None:
        results[index] = await fn(items[index])

    try:
        async with anyio.create_task_group() as group:
            for index in range(len(items)):
                group.start_soon(run, index)
    except BaseExceptionGroup as exc:
        raise concurrency._first_leaf(exc) from None
    return results


def use(gather_map: Any) -> None:
    concurrency.gather_map = gather_map
    for module in USERS:
        module.gather_map = gather_map  # type: ignore[attr-defined]


async def main(prompts: int, rounds: int) -> None:
    print(f"load average before: {os.getloadavg()}")
    folder = Path(tempfile.mkdtemp())
    items = [
        BatchItem(id=f"q{i}", messages=[{"role": "user", "content": f"question {i}"}])
        for i in range(prompts)
    ]
    gathers = {"stepped": STEPPED, "task group": task_group_gather_map}
    cpu: dict[str, list[float]] = {name: [] for name in gathers}
    async with SimulatedServer(SimulationSettings()) as server:
        url, cache = str(server.base_url), folder / "cache.sqlite"
        engine = Engine(DEFAULT_ARCHITECTURE, simulate=url, cache=cache)
        await run_batch(
            engine, items, folder / "first.jsonl", total=prompts, progress=io.StringIO()
        )
        sent = server.stats().requests
        for turn in range(rounds):
            order = list(gathers) if turn % 2 == 0 else list(reversed(gathers))
            for name in order:
                use(gathers[name])
                engine = Engine(DEFAULT_ARCHITECTURE, simulate=url, cache=cache)
                out = folder / f"rerun-{turn}-{name.replace(' ', '-')}.jsonl"
                started = time.process_time()
                await run_batch(engine, items, out, total=prompts, progress=io.StringIO())
                cpu[name].append(time.process_time() - started)
        use(STEPPED)
        if server.stats().requests != sent:
            raise SystemExit("a cached rerun sent requests: it must send none")
    stepped, grouped = (statistics.median(cpu[name]) for name in gathers)
    print(f"{prompts} prompts, {rounds} reruns each, CPU seconds per rerun (median):")
    print(f"  stepped {stepped:.3f}, task group {grouped:.3f}, ratio {grouped / stepped:.2f}x")
    for name, figures in cpu.items():
        print(f"  {name}: {', '.join(f'{figure:.3f}' for figure in figures)}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=6)
    options = parser.parse_args()
    anyio.run(main, options.prompts, options.rounds)
