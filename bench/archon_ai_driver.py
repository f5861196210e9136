"""Drives the original Archon (archon-ai 0.1.4) the way its gen_answers.py does.

Runs inside bench/.archon-ai-venv (made by bench/setup.sh), not in the project's venv:

    bench/.archon-ai-venv/bin/python bench/archon_ai_driver.py --base-url URL --result F ...

gen_answers.py builds one `Archon(config)` and maps `archon.generate` over the prompts with
a `ThreadPoolExecutor`; so does this. archon-ai's OpenAI_API generator builds a new
`openai.OpenAI()` per call, which reads ``OPENAI_BASE_URL``, so that is how it reaches the
simulated server. Its generator runs a component's samples one after another and its layers
run components one after another; nothing is changed here.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import CALLS_PER_PROMPT, Phase, load_shape_config, write_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--mode", choices=("batch", "query"), default="batch")
    parser.add_argument("--shape", choices=tuple(CALLS_PER_PROMPT), default="default")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    os.environ["OPENAI_BASE_URL"] = args.base_url
    os.environ["OPENAI_API_KEY"] = "sim-key"

    from archon.completions import Archon  # after the environment is set

    archon = Archon(load_shape_config(args.shape))
    archon.generate("warm-up: say hello")
    if args.mode == "query":
        walls = []
        phase = Phase()
        with phase:
            for index in range(args.n):
                started = time.perf_counter()
                archon.generate(f"Query {index}: name three prime numbers.")
                walls.append(time.perf_counter() - started)
        write_result(args.result, phase, walls=walls, client="archon-ai")
        return
    prompts = [f"Question number {i}: what is {i} * 7?" for i in range(args.n)]
    phase = Phase()
    with phase, ThreadPoolExecutor(max_workers=args.workers) as pool:
        answers = list(pool.map(archon.generate, prompts))
    write_result(
        args.result,
        phase,
        prompts=args.n,
        calls=args.n * CALLS_PER_PROMPT[args.shape],
        failed=sum(1 for answer in answers if not answer),
        client=f"archon-ai-{args.workers}",
        workers=args.workers,
    )


if __name__ == "__main__":
    main()
