"""The cached rerun's own work, start-up left out: main-thread CPU by phase, trees alternated.

    .venv/bin/python bench/cached_rerun_cpu.py [--prompts 1000] [--runs 15]
        [--tree NAME=PATH/TO/.venv/bin/python ...] [--latency-ms 20]

`cached_cli_bench.py` times the command from its start to its exit; on a loaded machine that
wall time is mostly the load (a 0.6 s-of-CPU rerun took 1.6-7 s at load 16-19) and even its
CPU varies by a tenth from run to run. This one measures what a change to the rerun's own
work moves: each child process imports the command and builds its parsers first (the
start-up, not measured), then runs ``archon-async batch`` on a cache the first run filled
(``cli.main`` in the child, a new output each time) and reports its main thread's CPU
(``time.thread_time``: the cache's read-ahead thread apart) split at the phases below.
Trees alternate child by child, so that they share the load; the table gives medians and
the median of the per-pair ratios against the first tree.

Phases: ``setup`` (arguments to the engine built, the event loop started, up to the
batch), ``prompts`` (the first prompt started to the last one answered), ``rest`` (the
batch's end, the summary). The cache is filled once, by the first tree's command against
one simulated provider (``python -m archon_async.simulate``), and every rerun must answer all
prompts with no request sent (checked on the server's ``/stats``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cached_cli_bench import Tree, _child_env, _get, _tree, simulator, timed

#: What each child runs: the command's start-up, then one rerun timed by phase (ms).
CHILD = """
import gc, json, sys, time
import archon_async.cli as cli
import archon_async._batch as batch
import archon_async._cli_batch as cli_batch
cli._parser()
gc.freeze()  # as the command does after its imports
clock, marks = time.thread_time, {}
run_batch, answer_item = cli_batch.run_batch, batch.answer_item

async def timed_batch(*args, **kwargs):
    marks["batch"] = clock()
    try:
        return await run_batch(*args, **kwargs)
    finally:
        marks["batch_end"] = clock()

async def timed_item(*args, **kwargs):
    marks.setdefault("first", clock())
    try:
        return await answer_item(*args, **kwargs)
    finally:
        marks["last"] = clock()

cli_batch.run_batch, batch.answer_item = timed_batch, timed_item
started = clock()
status = cli.main(sys.argv[1:])
ended = clock()
def ms(a, b):
    return round((b - a) * 1000, 2)
print(json.dumps({"status": status, "main": ms(started, ended),
                  "setup": ms(started, marks["first"]),
                  "prompts": ms(marks["first"], marks["last"]),
                  "rest": ms(marks["last"], ended)}))
"""

PHASES = ("main", "setup", "prompts", "rest")


def rerun(tree: Tree, url: str, prompts: Path, cache: Path, output: Path) -> dict[str, float]:
    """One rerun in a child of ``tree``: its phases (ms of main-thread CPU).

    Raises:
        SystemExit: the rerun failed or sent a request.
    """
    for leftover in output.parent.glob(f"{output.name}*"):
        leftover.unlink()
    urllib.request.urlopen(
        urllib.request.Request(f"{url}/stats/reset", method="POST"), timeout=30
    ).close()
    command = [str(tree.python), "-c", CHILD, "batch", "--input", str(prompts)]
    command += ["--simulate-url", url, "--cache", str(cache), "--output", str(output)]
    done = subprocess.run(
        command, env=_child_env(), capture_output=True, text=True, cwd=tempfile.gettempdir()
    )
    stats = _get(url, "/stats")
    assert isinstance(stats, dict)
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"{tree.name}: the rerun failed:\n{done.stderr[-2000:]}")
    if stats["requests"]:
        raise SystemExit(f"{tree.name}: the rerun sent {stats['requests']} requests")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    if figures.pop("status") != 0:
        raise SystemExit(f"{tree.name}: the rerun exited {done.returncode}")
    return figures


def main(options: argparse.Namespace) -> None:
    trees = [Tree(name, Path(python)) for name, python in options.tree]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        prompts = folder / "prompts.jsonl"
        with prompts.open("w") as out:
            for i in range(options.prompts):
                out.write(json.dumps({"id": f"q{i}", "prompt": f"question {i}"}) + "\n")
        cache = folder / "cache.sqlite"
        with simulator(trees[-1].python, options.latency_ms) as url:
            first = [*trees[0].command, "--input", str(prompts), "--simulate-url", url]
            timed([*first, "--cache", str(cache), "--output", str(folder / "first.jsonl")])
            for _ in range(options.runs):
                for tree in trees:
                    output = folder / f"{tree.name}.jsonl"
                    tree.runs.append(rerun(tree, url, prompts, cache, output))
    load_after = os.getloadavg()
    print(
        f"load average before: {load_before[0]:.1f}, after: {load_after[0]:.1f}; "
        f"{options.prompts} prompts, {options.runs} reruns a tree, alternated; main-thread "
        "CPU, ms, medians (pair ratio: median of this tree's / the first tree's, run by run)"
    )
    print("| tree | " + " | ".join(PHASES) + " | pair ratio, main / prompts |")
    print("| --- " * (len(PHASES) + 2) + "|")
    reference = trees[0].runs
    for tree in trees:
        medians = [statistics.median(run[phase] for run in tree.runs) for phase in PHASES]
        ratios = ""
        if tree is not trees[0]:
            pairs = list(zip(tree.runs, reference, strict=True))
            by = [statistics.median(a[p] / b[p] for a, b in pairs) for p in ("main", "prompts")]
            ratios = f"{by[0]:.3f} / {by[1]:.3f}"
        print(f"| {tree.name} | " + " | ".join(f"{m:.1f}" for m in medians) + f" | {ratios} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="of the first run")
    parser.add_argument(
        "--tree",
        type=_tree,
        action="append",
        help="NAME=PYTHON, repeatable (default: this interpreter); run alternately",
    )
    arguments = parser.parse_args()
    arguments.tree = arguments.tree or [("this", sys.executable)]
    main(arguments)
