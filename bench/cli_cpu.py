"""Measure 3 through the command a user runs: ``archon-async batch``'s client CPU a call.

    nice -n 10 .venv/bin/python -m bench.cli_cpu --rounds 5 --variants 8,1

Against one simulator at L = 0 (its own process), each round runs, each a process of its
own: bare aiohttp (`bench.clients.aiohttp_raw`, ``--shape single --workers 64 --inflight 64``)
and, for each variant, ``archon-async batch configs/single_model.json --base-url SIM/v1
--model-type OpenAI_API --input PROMPTS --output OUT --starts-per-turn S`` (its defaults
otherwise: 64 prompts in flight, the spend journal beside the output, the answers file),
each with ``--big`` and with ``--small`` prompts. A process's CPU is the kernel's account of
it (user + system, ``os.wait4``), start-up included; the difference between the big and the
small run of one round, over the prompts between them, is the CPU a call beyond start-up.
Prints each one's median and the median of its per-round ratios against bare aiohttp.

With ``--tree NAME=PATH`` (repeatable) each variant's command runs from each tree in turn
within a round (its own ``.venv``; the tree first on the import path), so that a change
is alternated against a copy of main: ``--tree main=/tmp/main --tree new=.``; bare aiohttp
runs from this checkout.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._common import ROOT, VENV_PYTHON, ratio_line, server


def _cpu_s(command: list[str], env: dict[str, str], cwd: Path = ROOT) -> float:
    """Run ``command`` to its end; its CPU seconds (user + system).

    Raises:
        SystemExit: the command failed.
    """
    child = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command!r} failed: {errors.decode(errors='replace')[-2000:]}")
    return usage.ru_utime + usage.ru_stime


def _prompts(path: Path, count: int) -> Path:
    with path.open("w") as out:
        for index in range(count):
            out.write(f'{{"id": "{index}", "prompt": "Question number {index}: what is 7?"}}\n')
    return path


def main(options: argparse.Namespace) -> None:
    trees = [(name, Path(path).resolve()) for name, path in (t.split("=", 1) for t in options.tree)]
    runs = [
        (f"{tree_name}:{variant}" if trees else variant, tree, variant)
        for variant in options.variants.split(",")
        for tree_name, tree in (trees or [("", ROOT)])
    ]
    variants = [name for name, _, _ in runs]
    env = dict(os.environ, OPENAI_API_KEY="sim-key", PYTHONPATH=str(ROOT))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    sizes = {"big": options.big, "small": options.small}
    per_call: dict[str, list[float]] = {name: [] for name in ["aiohttp", *variants]}
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as scratch, server(0) as sim:
        files = {size: _prompts(Path(scratch) / f"{size}.jsonl", n) for size, n in sizes.items()}
        for round_ in range(options.rounds):
            spent: dict[str, dict[str, float]] = {name: {} for name in per_call}
            for size, n in sizes.items():
                raw = [str(VENV_PYTHON), "-m", "bench.clients.aiohttp_raw"]
                raw += ["--base-url", f"{sim.root}/v1", "--result", f"{scratch}/raw.json"]
                raw += ["--shape", "single", "--n", str(n), "--inflight", "64"]
                raw += ["--workers", "64", "--warmup", "0"]
                spent["aiohttp"][size] = _cpu_s(raw, env)
                for name, tree, starts in runs:
                    output = Path(scratch) / "answers.jsonl"
                    for leftover in Path(scratch).glob("answers.jsonl*"):
                        leftover.unlink()
                    python = tree / ".venv" / "bin" / "python"
                    cli = [str(python), "-m", "archon_async.cli", "batch"]
                    cli += [str(tree / "configs" / "single_model.json")]
                    cli += ["--base-url", f"{sim.root}/v1", "--model-type", "OpenAI_API"]
                    cli += ["--input", str(files[size]), "--output", str(output)]
                    cli += ["--starts-per-turn", starts]
                    spent[name][size] = _cpu_s(cli, dict(env, PYTHONPATH=str(tree)), tree)
            between = options.big - options.small
            for name, by_size in spent.items():
                per_call[name].append((by_size["big"] - by_size["small"]) / between * 1e6)
            load.append(os.getloadavg()[0])
            print(f"round {round_ + 1} done, load {load[-1]:.1f}", flush=True)
    loads = ", ".join(f"{each:.1f}" for each in load)
    print(f"load average: {loads}; python {sys.version.split()[0]}")
    print(f"us of CPU a call beyond start-up ({options.big} prompts less {options.small})")
    for name, values in per_call.items():
        print(ratio_line(name, values, per_call["aiohttp"]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variants", default="8,1", help="the command's --starts-per-turn values")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--big", type=int, default=5200)
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--tree", action="append", default=[], help="NAME=PATH (repeatable)")
    main(parser.parse_args())
