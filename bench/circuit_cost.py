"""The client CPU of the circuit breaker on a call that succeeds (issue 12: a circuit per
endpoint): what `Dispatcher.complete` does for it, the endpoint looked up (where the tree
keys circuits per endpoint), ``before_attempt`` and ``succeeded``. Prints the median of
``--rounds`` rounds in microseconds a call; run it with each tree first on the import
path, alternated, to compare them::

    PYTHONPATH=/path/to/tree .venv/bin/python -m bench.circuit_cost
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from archon_async._dispatch import Dispatcher
from archon_async._registry import Registry
from archon_async._types import ChatRequest


def breaker_work() -> tuple[str, Callable[[], None]]:
    """The tree's name (per endpoint or per model) and one call's breaker work."""
    dispatcher = Dispatcher(Registry.default(), environ={}, dotenv_path=None)
    circuits = dispatcher._circuits
    request = ChatRequest("m", "OpenAI_API", [{"role": "user", "content": "q"}])
    endpoint_of = getattr(dispatcher, "endpoint_of", None)
    if endpoint_of is None:

        def per_model() -> None:
            circuits.before_attempt(request, threshold=2)
            circuits.succeeded(request)

        return "per model", per_model
    endpoint_of(request)  # the first one works the endpoint out

    def per_endpoint() -> None:
        endpoint = endpoint_of(request)
        circuits.before_attempt(request, threshold=2, endpoint=endpoint)
        circuits.succeeded(request, endpoint)

    return "per endpoint", per_endpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    name, once = breaker_work()
    rounds = []
    for _ in range(args.rounds):
        started = time.process_time()
        for _ in range(args.calls):
            once()
        rounds.append((time.process_time() - started) / args.calls * 1e6)
    shown = ", ".join(f"{r:.3f}" for r in rounds)
    print(f"{name}: median {statistics.median(rounds):.3f} us a call (rounds {shown})")


if __name__ == "__main__":
    main()
