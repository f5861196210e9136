"""A batch run twice on one cache, as a reviewer does it (issue 12): the CLI, twice.

    .venv/bin/python bench/cached_cli_bench.py [--prompts 1000] [--latencies-ms 20,200,1000]
        [--runs 3] [--tree NAME=PATH/TO/.venv/bin/python ...] [--startup-runs 15]

For each latency, one simulated provider in a process of its own (``python -m
archon_async.simulate --latency-ms L --request-log N``); then, ``--runs`` times and for each
``--tree`` in turn (alternating, so that trees compared share the machine's load): ``archon-async
batch --input PROMPTS --simulate-url URL --cache NEW.sqlite --output first.jsonl`` and the same
again with ``--output rerun.jsonl`` (another output: the same one would resume, answering
nothing). Each is a process of its own, timed from its start to its exit (wall) with its
CPU (user + system, from the kernel's accounting of the child). The bench stops with an
error if the rerun sent a request (the server's ``/stats`` counter and its request log) or
answered a prompt differently from the first run.

The rerun's wall time is start-up and imports, reading the input, opening the cache and its
read-ahead, the hits, the output; the start-up part is measured apart (``--startup-runs``
processes that import the command and build its parsers, CPU median) so that the rest is the
run's own.

A tree is a checkout with its own virtual environment (the default: this interpreter); pass
``--tree before=/tmp/base/.venv/bin/python --tree after=.venv/bin/python`` to compare two.
Children run with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` removed from their
environment, where it is set): with it off, every start compiles the package from source,
which measures the environment, not the code. They run with ``PYTHONSAFEPATH=1``, so that
each imports its own tree's package, never the one in the working directory. The load
average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

#: What one ``--startup-runs`` process does: the command's imports and parsers, then exit.
STARTUP_PROBE = "import archon_async.cli as cli; cli._parser()"


@dataclass
class Tree:
    """A checkout to measure: a name and its interpreter (with archon_async installed)."""

    name: str
    python: Path
    runs: list[dict[str, float]] = field(default_factory=list)

    @property
    def command(self) -> list[str]:
        return [str(self.python), "-m", "archon_async.cli", "batch"]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # Each tree's interpreter imports its own package: without this, ``-m`` and ``-c`` put
    # the working directory first on sys.path, and every tree run from a checkout's root
    # imported that checkout's archon_async (before 2026-11-30 12:20, "before" and "after"
    # measured the same code).
    env["PYTHONSAFEPATH"] = "1"
    return env


def timed(command: list[str]) -> tuple[float, float]:
    """Run ``command`` to its end; its wall seconds and CPU seconds (user + system).

    Raises:
        SystemExit: the command failed.
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=_child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    error = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}:\n{error.decode()}")
    return wall, usage.ru_utime + usage.ru_stime


@contextmanager
def simulator(python: Path, latency_ms: float) -> Iterator[str]:
    """``python -m archon_async.simulate`` on a free port, keeping its request log; its URL."""
    command = [str(python), "-m", "archon_async.simulate", "--port", "0"]
    command += ["--latency-ms", str(latency_ms), "--request-log", "100"]
    process = subprocess.Popen(command, env=_child_env(), stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        # "simulated provider listening on http://127.0.0.1:PORT"
        yield process.stdout.readline().decode().split()[-1]
    finally:
        process.terminate()
        process.wait()


def _get(url: str, path: str) -> object:
    with urllib.request.urlopen(f"{url.rstrip('/')}{path}", timeout=30) as reply:
        return json.load(reply)


def _answers(path: Path) -> dict[str, str]:
    lines = (json.loads(line) for line in path.open())
    return {line["id"]: line["answer"] for line in lines}


def batch_twice(
    tree: Tree, url: str, prompts: Path, folder: Path, latency_ms: float
) -> dict[str, float]:
    """The batch on a new cache, then again on it (two processes); their figures.

    Raises:
        SystemExit: the first run sent nothing (not a new cache), the rerun sent a
            request, or the rerun did not answer every prompt as the first run did.
    """
    cache = folder / f"{tree.name}-{latency_ms:g}ms-{len(tree.runs)}.sqlite"
    figures: dict[str, float] = {}
    for run in ("first", "rerun"):
        output = cache.with_name(f"{cache.stem}-{run}.jsonl")
        before = _get(url, "/stats")
        if run == "rerun":
            urllib.request.urlopen(
                urllib.request.Request(f"{url}/stats/reset", method="POST"), timeout=30
            ).close()
        command = [*tree.command, "--input", str(prompts), "--simulate-url", url]
        command += ["--cache", str(cache), "--output", str(output)]
        figures[f"{run}_s"], figures[f"{run}_cpu_s"] = timed(command)
        after = _get(url, "/stats")
        assert isinstance(before, dict) and isinstance(after, dict)
        sent_before = 0 if run == "rerun" else before["requests"]  # the rerun's: reset
        figures[f"{run}_requests"] = after["requests"] - sent_before
    logged = _get(url, "/requests")
    if not figures["first_requests"]:
        raise SystemExit(f"{tree.name}: the first run sent nothing: {cache} was not new")
    if figures["rerun_requests"] or logged:
        raise SystemExit(f"{tree.name}: the cached rerun sent requests: {logged}")
    first = _answers(cache.with_name(f"{cache.stem}-first.jsonl"))
    again = _answers(cache.with_name(f"{cache.stem}-rerun.jsonl"))
    if len(first) != sum(1 for _ in prompts.open()) or first != again:
        raise SystemExit(f"{tree.name}: the cached rerun did not answer every prompt as before")
    figures["ratio"] = figures["first_s"] / figures["rerun_s"]
    figures["cpu_ratio"] = figures["first_cpu_s"] / figures["rerun_cpu_s"]
    return figures


def _rows(latency_ms: float, trees: list[Tree], prompts: int) -> list[str]:
    rows = []
    for tree in trees:
        median = {name: statistics.median(run[name] for run in tree.runs) for name in tree.runs[0]}
        ratios = ", ".join(f"{figures['ratio']:.1f}" for figures in tree.runs)
        rows.append(
            f"| {latency_ms:g} ms | {tree.name} | {median['first_s']:.2f} s, "
            f"{median['first_cpu_s']:.2f} s CPU, {median['first_requests']:.0f} requests | "
            f"{median['rerun_s']:.2f} s, {median['rerun_cpu_s']:.2f} s CPU, "
            f"{median['rerun_requests']:.0f} requests | {median['ratio']:.1f}x ({ratios}) | "
            f"{median['cpu_ratio']:.1f}x |"
        )
    return rows


def main(options: argparse.Namespace) -> None:
    trees = [Tree(name, Path(python)) for name, python in options.tree]
    load_before = os.getloadavg()
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        prompts = folder / "prompts.jsonl"
        with prompts.open("w") as out:
            for i in range(options.prompts):
                out.write(json.dumps({"id": f"q{i}", "prompt": f"question {i}"}) + "\n")
        for latency in options.latencies_ms:
            for tree in trees:
                tree.runs = []
            with simulator(trees[-1].python, latency) as url:
                for _ in range(options.runs):
                    for tree in trees:
                        tree.runs.append(batch_twice(tree, url, prompts, folder, latency))
            rows += _rows(latency, trees, options.prompts)
    startup: dict[str, list[float]] = {tree.name: [] for tree in trees}  # alternating
    for _ in range(options.startup_runs):
        for tree in trees:
            startup[tree.name].append(timed([str(tree.python), "-c", STARTUP_PROBE])[1])
    load_after = os.getloadavg()
    print(
        f"load average before: {load_before[0]:.1f}, after: {load_after[0]:.1f}; "
        f"{options.prompts} prompts, {options.runs} runs each, medians"
    )
    print("| latency | tree | first run (wall, CPU) | rerun | speed-up, wall (each) | CPU |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    for tree in trees:
        print(
            f"start-up of {tree.name} (import the command, build its parsers; CPU median of "
            f"{options.startup_runs}): {statistics.median(startup[tree.name]) * 1000:.0f} ms"
        )


def _tree(text: str) -> tuple[str, str]:
    name, _, python = text.partition("=")
    if not python:
        raise argparse.ArgumentTypeError("--tree takes NAME=PATH/TO/PYTHON")
    return name, python


def _latencies(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--latencies-ms", type=_latencies, default=[20.0, 200.0, 1000.0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--startup-runs", type=int, default=15)
    parser.add_argument(
        "--tree",
        type=_tree,
        action="append",
        help="NAME=PYTHON, repeatable (default: this interpreter); run alternately",
    )
    arguments = parser.parse_args()
    arguments.tree = arguments.tree or [("this", sys.executable)]
    main(arguments)
