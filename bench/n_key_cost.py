"""The client CPU of the key a refusal of ``n`` is remembered by (``Sender.n_key``), asked
once per draw of several samples (issue 12: the refusal is kept per endpoint and model).
Prints the best of ``--repeat`` timeit runs of ``n_key`` on an open call path beside the
plain ``(model_type, model)`` tuple it replaced, in nanoseconds. Run::

    .venv/bin/python -m bench.n_key_cost
"""

from __future__ import annotations

import argparse
import asyncio
import timeit

from archon_async._types import ChatRequest
from archon_async.callpath import CallPath


async def measure(number: int, repeat: int) -> dict[str, float]:
    providers = {"OpenAI_Compatible": {"base_url": "http://127.0.0.1:9/v1"}}
    async with CallPath(providers=providers) as callpath:
        sender = callpath._sender
        request = ChatRequest("m", "OpenAI_Compatible", [{"role": "user", "content": "q"}])
        sender.n_key(request)  # the first one works the key out
        keyed = min(timeit.repeat(lambda: sender.n_key(request), number=number, repeat=repeat))
        pair = min(
            timeit.repeat(lambda: (request.model_type, request.model), number=number, repeat=repeat)
        )
    return {"n_key_ns": keyed / number * 1e9, "pair_ns": pair / number * 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.number, args.repeat))
    print(", ".join(f"{name} {value:.0f}" for name, value in figures.items()))


if __name__ == "__main__":
    main()
