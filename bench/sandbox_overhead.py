"""What isolation costs: wall time of one sandboxed run, and of scoring HumanEval, per backend.

For each backend (bubblewrap, util-linux unshare, and no isolation as the baseline): the
median and 90th percentile wall time of a run of an empty test program (start, marker,
teardown), then the wall time of scoring the first N HumanEval canonical solutions with two
programs at once (as `score_all` does by default).

    .venv/bin/python bench/sandbox_overhead.py [--runs 30] [--items 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from archon_async.benchmarks import Sandbox, SandboxUnavailableError, get_benchmark, score_code
from archon_async.benchmarks.sandbox import Isolation


async def _backend(name: str) -> Sandbox | None:
    if name == "none":
        return Sandbox(timeout_s=30)
    sandbox = Sandbox(timeout_s=30, isolation=name)  # type: ignore[arg-type]
    try:
        await sandbox.resolve()
    except SandboxUnavailableError:
        return None
    return sandbox


async def _run(sandbox: Sandbox, name: str, code: str) -> bool:
    if name == "none":  # the baseline: the same driver and limits, no namespaces
        result = await sandbox._execute("none", code, None, 30.0, tests=True)
    else:
        result = await sandbox.run(code, tests=True)
    return result.passed


async def _measure(name: str, runs: int, items: int) -> str:
    sandbox = await _backend(name)
    if sandbox is None:
        return f"| {name} | unavailable here | | |"
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        assert await _run(sandbox, name, "pass")
        times.append(time.perf_counter() - started)
    chosen = get_benchmark("humaneval").items()[:items]
    gate = asyncio.Semaphore(2)

    async def one(item: object) -> bool:
        meta = item.metadata  # type: ignore[attr-defined]
        async with gate:
            if name == "none":
                program = meta["prompt"] + meta["canonical_solution"]
                program += f"\n\n{item.reference}\n\ncheck({meta['entry_point']})\n"  # type: ignore[attr-defined]
                return await _run(sandbox, name, program)
            verdict = await score_code(
                "humaneval", item, meta["canonical_solution"], sandbox=sandbox
            )  # type: ignore[arg-type]
            return verdict.correct

    started = time.perf_counter()
    passed = await asyncio.gather(*(one(item) for item in chosen))
    total = time.perf_counter() - started
    deciles = statistics.quantiles(times, n=10)
    return (
        f"| {name} | {statistics.median(times) * 1000:.0f} ms | {deciles[-1] * 1000:.0f} ms "
        f"| {total:.1f} s ({sum(passed)}/{len(chosen)} passed) |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--items", type=int, default=40)
    args = parser.parse_args()
    print(f"uid {os.geteuid()}, load average {os.getloadavg()}")
    print("| backend | one run, median | p90 | HumanEval canonical, 2 at once |")
    print("|---|---|---|---|")
    names: list[Isolation | str] = ["bwrap", "unshare", "none"]
    for name in names:
        print(await _measure(str(name), args.runs, args.items))


if __name__ == "__main__":
    asyncio.run(main())
