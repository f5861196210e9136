"""This engine: `Engine.generate` for single queries, `run_batch` for batches.

The shipped config of ``--shape`` runs with every component on the OpenAI_API model_type
(see `bench._common.load_shape_config`), pointed at the simulated server. ``--inflight`` is
the provider's ``max_concurrency``; ``--rpm`` its configured rate limit (none by default).
``--lag`` runs a monitor task that sleeps 10 ms at a time and records the overshoot.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import structlog

from archon_async import Engine
from archon_async._batch import STARTS_PER_TURN, run_batch
from archon_async._batch_io import BatchItem
from bench._common import CALLS_PER_PROMPT, Phase, load_shape_config, settle_heap, write_result
from bench.clients._raw import base_parser


def _items(n: int) -> Iterator[BatchItem]:
    # Lazily made, so that the batch's own memory, not the input's, is what is measured.
    for index in range(n):
        content = f"Question number {index}: what is {index} * 7?"
        yield BatchItem(id=str(index), messages=({"role": "user", "content": content},))


class LagMonitor:
    """Measures how late the event loop wakes a task that sleeps 10 ms at a time."""

    def __init__(self, period_s: float = 0.01) -> None:
        self.period_s = period_s
        self.overshoots: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.period_s)
            self.overshoots.append(time.perf_counter() - started - self.period_s)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> dict[str, float]:
        if self._task is not None:
            self._task.cancel()
        if not self.overshoots:
            return {}
        ordered = sorted(self.overshoots)
        return {
            "lag_max_ms": ordered[-1] * 1000,
            "lag_p99_ms": ordered[int(len(ordered) * 0.99)] * 1000,
            "lag_median_ms": ordered[len(ordered) // 2] * 1000,
        }


async def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--rpm", type=float, default=None)
    parser.add_argument("--lag", action="store_true")
    parser.add_argument("--log-level", default="WARNING", help="structlog level kept")
    parser.add_argument(
        "--starts-per-turn",
        type=int,
        default=STARTS_PER_TURN,
        help="the batch's starts a loop turn (default: the Python API's)",
    )
    args = parser.parse_args()
    # An application configures logging; unconfigured structlog prints every debug line
    # (one per provider call) to stdout, which a benchmark should not pay for.
    level = logging.getLevelNamesMapping()[args.log_level.upper()]
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(level), cache_logger_on_first_use=True
    )
    os.environ.setdefault("OPENAI_API_KEY", "sim-key")
    provider: dict[str, Any] = {"base_url": args.base_url, "max_concurrency": args.inflight}
    if args.rpm is not None:
        provider["rpm"] = args.rpm
    engine = Engine(
        load_shape_config(args.shape),
        keys={"OPENAI_API_KEY": ["sim-key"]},
        providers={"OpenAI_API": provider},
    )
    extra: dict[str, Any] = {
        "client": "engine",
        "inflight": args.inflight,
        "starts_per_turn": args.starts_per_turn,
    }
    async with engine:
        await asyncio.gather(*(engine.generate("warm-up") for _ in range(args.warmup)))
        settle_heap()
        if args.mode == "query":
            walls = []
            phase = Phase()
            with phase:
                for index in range(args.n):
                    started = time.perf_counter()
                    await engine.generate(f"Query {index}: name three prime numbers.")
                    walls.append(time.perf_counter() - started)
            write_result(args.result, phase, walls=walls, **extra)
            return
        monitor = LagMonitor()
        if args.lag:
            monitor.start()
        with tempfile.TemporaryDirectory() as scratch:
            output = Path(scratch) / "answers.jsonl"
            with open(os.devnull, "w") as quiet:
                phase = Phase()
                with phase:
                    stats = await run_batch(
                        engine,
                        _items(args.n),
                        output,
                        total=args.n,
                        concurrency=args.workers,
                        progress=quiet,
                        unique_ids=True,  # as the CLI, whose input file is checked first
                        starts_per_turn=args.starts_per_turn,
                    )
        extra |= monitor.stop()
    summary = stats.summary()
    write_result(
        args.result,
        phase,
        prompts=args.n,
        calls=args.n * CALLS_PER_PROMPT[args.shape],
        failed=stats.failed,
        answered=stats.answered,
        engine_calls=summary.get("calls"),
        **extra,
    )


if __name__ == "__main__":
    asyncio.run(main())
