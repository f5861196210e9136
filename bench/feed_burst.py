"""The batch's starts a loop turn against measure 3's CPU and measure 6's loop lag, alternated.

    nice -n 10 .venv/bin/python -m bench.feed_burst --starts 1,2,4,8 --rounds 3

Each round runs, one process each: bare aiohttp and the engine's batch (`run_batch`) at every
``--starts`` value against one simulator at L = 0 (measure 3: ``--shape single --n 5000
--inflight 64 --workers 64 --warmup 200``), then the engine's batch at every value against a
second simulator at L = 20 ms with the lag monitor (measure 6's saturated setup: ``--shape
single --n 10000 --lag --inflight 256 --workers 128``). Prints each variant's medians and
the median of its per-round ratios (CPU a call against bare aiohttp of the same round; lag
against the first ``--starts`` value of the same round).
"""

from __future__ import annotations

import argparse
import os
import statistics
from typing import Any

from bench._common import ratio_line, run_client, server

MEASURE_3 = ["--shape", "single", "--n", "5000", "--inflight", "64", "--workers", "64"]
MEASURE_6 = ["--shape", "single", "--n", "10000", "--lag", "--inflight", "256", "--workers", "128"]


def _cpu_us(result: dict[str, Any]) -> float:
    return float(result["cpu_s"]) / float(result["calls"]) * 1e6


def _flags(name: str) -> list[str]:
    return ["--starts-per-turn", name]


def main(options: argparse.Namespace) -> None:
    starts = options.starts.split(",")
    cpu: dict[str, list[float]] = {name: [] for name in ["aiohttp", *starts]}
    lag: dict[str, list[dict[str, float]]] = {name: [] for name in starts}
    load = [os.getloadavg()[0]]
    m3 = [*MEASURE_3[:3], str(options.m3_n), *MEASURE_3[4:], "--warmup", "200"]
    m6 = [*MEASURE_6[:3], str(options.m6_n), *MEASURE_6[4:], "--warmup", "20"]
    with server(0) as fast, server(20) as slow:
        for round_ in range(options.rounds):
            cpu["aiohttp"].append(_cpu_us(run_client(fast, ["aiohttp_raw", *m3])))
            for name in starts:
                result = run_client(fast, ["engine", *m3, *_flags(name)])
                cpu[name].append(_cpu_us(result))
            if not options.skip_lag:
                for name in starts:
                    result = run_client(slow, ["engine", *m6, *_flags(name)])
                    lag[name].append(
                        {
                            "median": result["lag_median_ms"],
                            "p99": result["lag_p99_ms"],
                            "cpu": _cpu_us(result),
                            "wall": float(result["wall_s"]),
                        }
                    )
            load.append(os.getloadavg()[0])
            print(f"round {round_ + 1} done, load {load[-1]:.1f}", flush=True)
    print(f"load average: {', '.join(f'{each:.1f}' for each in load)}")
    print("measure 3 (L = 0), us of CPU a call; ratio: per-round pairs against bare aiohttp")
    for name, values in cpu.items():
        print(ratio_line(name, values, cpu["aiohttp"]))
    if options.skip_lag:
        return
    print("measure 6 (L = 20 ms, 128 prompts in flight): loop lag ms, CPU us a call, wall s")
    for name, rows in lag.items():
        medians = [row["median"] for row in rows]
        print(
            f"  {name:>8}: lag median {statistics.median(medians):5.1f} "
            f"({', '.join(f'{v:.1f}' for v in medians)}); p99 "
            f"{statistics.median(row['p99'] for row in rows):5.1f}; CPU "
            f"{statistics.median(row['cpu'] for row in rows):5.0f}; wall "
            f"{statistics.median(row['wall'] for row in rows):5.1f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", default="1,2,4,8", help="comma-separated starts a turn")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--m3-n", type=int, default=5000, help="measure 3's calls a run")
    parser.add_argument("--m6-n", type=int, default=10000, help="measure 6's prompts a run")
    parser.add_argument("--skip-lag", action="store_true", help="measure 3 only")
    main(parser.parse_args())
