"""Whole processes alternated: each command's CPU (user + system) as its median and the median
of its per-pair ratios against the first command (issue 12: the cached rerun as a process).

    .venv/bin/python bench/alternate_cpu.py --runs 21 \\
        'before=/tmp/base/.venv/bin/python -m archon_async.cli batch --input p.jsonl ...' \\
        'after=.venv/bin/python -m archon_async.cli batch --input p.jsonl ...'

Each round runs every command once, in the order given, so that they share the machine's
load; a command is a shell line (run from ``--cwd``). ``--remove`` names files deleted before
each run (a batch's output, so that a rerun answers every prompt again instead of resuming).
Children run with bytecode caching on and ``PYTHONSAFEPATH=1`` (see cached_cli_bench.py).
The CPU is the kernel's accounting of the child (``os.wait4``); wall times are printed too,
but on a shared machine they are mostly the load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path


def run_once(command: str, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Run ``command`` to its end; its CPU ms and wall ms.

    Raises:
        SystemExit: the command failed.
    """
    started = time.perf_counter()
    child = subprocess.Popen(
        command, shell=True, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = (time.perf_counter() - started) * 1000
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command!r} failed: {errors.decode(errors='replace')[-2000:]}")
    return (usage.ru_utime + usage.ru_stime) * 1000, wall


def main(options: argparse.Namespace) -> None:
    commands = [text.split("=", 1) for text in options.commands]
    env = dict(os.environ, PYTHONSAFEPATH="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cpu: dict[str, list[float]] = {name: [] for name, _ in commands}
    wall: dict[str, list[float]] = {name: [] for name, _ in commands}
    load_before = os.getloadavg()[0]
    for _ in range(options.runs):
        for name, command in commands:
            for path in options.remove:
                (options.cwd / path).unlink(missing_ok=True)
            spent, took = run_once(command, options.cwd, env)
            cpu[name].append(spent)
            wall[name].append(took)
    first = commands[0][0]
    print(f"load average before: {load_before:.1f}, after: {os.getloadavg()[0]:.1f}; "
          f"{options.runs} rounds, medians")  # fmt: skip
    print("| command | CPU | pair ratio | lower in | wall |")
    print("| --- | --- | --- | --- | --- |")
    for name, _ in commands:
        ratio = statistics.median(b / a for a, b in zip(cpu[first], cpu[name], strict=True))
        lower = sum(b < a for a, b in zip(cpu[first], cpu[name], strict=True))
        print(
            f"| {name} | {statistics.median(cpu[name]):.1f} ms | {ratio:.3f} | "
            f"{lower}/{options.runs} | {statistics.median(wall[name]):.0f} ms |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("commands", nargs="+", metavar="NAME=COMMAND")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--cwd", type=Path, default=Path.cwd())
    parser.add_argument("--remove", action="append", default=[], metavar="FILE")
    main(parser.parse_args())
