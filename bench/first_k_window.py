"""first_k early stop: judgements and latency of `scan_first_k` against Archon's scan.

Archon judges candidates one by one and stops at the k-th pass; `scan_first_k` judges them
through a sliding window. For each pass rate, 100 scans of 100 candidates (k = 1) with
judgement latencies drawn from 10-20 ms: the judgements made, against Archon's, and the
mean wall time in units of the mean judgement latency (15 ms).

    .venv/bin/python bench/first_k_window.py [--runs 100] [--windows 1,4,8,16]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import anyio

from archon_async.components._first_k import scan_first_k

_LATENCY_S = 0.010
_MEAN_LATENCY_S = 0.015


async def _one(rate: float, window: int, seed: int) -> tuple[int, int, float]:
    rng = random.Random(seed)
    verdicts = [rng.random() < rate for _ in range(100)]
    calls = 0

    async def judge(index: int) -> bool:
        nonlocal calls
        calls += 1
        await anyio.sleep(_LATENCY_S * (1 + rng.random()))
        return verdicts[index]

    started = time.perf_counter()
    await scan_first_k(100, judge, bool, 1, max_window=window)
    elapsed = time.perf_counter() - started
    archon = verdicts.index(True) + 1 if True in verdicts else 100
    return calls, archon, elapsed


async def _main(runs: int, windows: list[int]) -> None:
    print("| pass rate | window | judgements / Archon's | wall / judgement latency |")
    print("|---|---|---|---|")
    for rate in (0.9, 0.5, 0.2, 0.05):
        for window in windows:
            results = [await _one(rate, window, seed) for seed in range(runs)]
            calls = sum(r[0] for r in results)
            archon = sum(r[1] for r in results)
            wall = statistics.mean(r[2] for r in results) / _MEAN_LATENCY_S
            print(f"| {rate} | {window} | {calls / archon:.2f} | {wall:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--windows", default="1,4,8,16")
    args = parser.parse_args()
    anyio.run(_main, args.runs, [int(w) for w in args.windows.split(",")])


if __name__ == "__main__":
    main()
