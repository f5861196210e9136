"""One call path for many architectures, engines, threads and processes.

A `CallPath` owns everything below the components: the providers' clients and connection
pools, the rpm/tpm buckets and in-flight caps, the key pools, the priority gates, the
response cache and the budget. Engines are given one and draw from it together, so limits
hold for the sum of them::

    from archon_async import CallPath, Engine

    async with CallPath(keys=..., providers={"Together_API": {"rpm": 600}},
                        cache="runs.sqlite") as calls:
        a = Engine("configs/a.json", callpath=calls)
        b = Engine("configs/b.json", callpath=calls)
        await asyncio.gather(a.generate(q), b.generate(q))   # one limit, one cache

An `Engine` given no call path builds a private one from its own arguments (``keys``,
``providers``, ``simulate``, ``cache``), which is what a single architecture needs.

Loops and threads: a call path lives on one event loop, its *home*: the loop that opened it
(``async with CallPath(...)``), or a thread of its own when it is opened synchronously
(``with CallPath(...) as calls:``, for threads and scripts). A call made from any other
loop (another thread's ``anyio.run``, `Engine.generate_sync`) is handed to the home loop
and awaited from there, so every thread shares the same buckets and pools; cancelling the
waiting call cancels the forwarded one.

Provider settings: those given to the call path win; a model_type it was told nothing
about takes the settings of the first architecture that names it (its config's
``providers`` section), so an engine's private call path behaves as before.

Sample indices (for the cache): within one `generate()`, the j-th identical request is
sample j. An architecture asking for 5 samples of a request another one asked 3 of reuses
those 3 and draws 2 more (see `ResponseCache`). ``generate(..., draw=d)`` asks for an
independent answer to the same prompt: its samples are numbered from ``d * 2**32``, entries
of their own (draw 0 is the usual numbering), shared by every architecture on that draw.

Processes: ``CallPath(shared_limits=RedisLimits("redis://..."))`` shares the rpm/tpm
buckets and 429 cooldowns with every process on the same Redis server (see `RedisLimits`);
the cache file is shared by processes as it is (a request in flight in one is not sent by
another, and the first reply kept for a sample is the one every process goes on with: see
`ResponseCache`).

For the architecture search built on top: create one `CallPath` (with ``cache=`` and a
``budget=``), give it to every candidate's `Engine`, and read `CallPath.statistics` and
`CallPath.spent` for what the search cost. ``calls.journal = SpendJournal(path)`` records
each request before it is sent, so a resumed run knows what a killed one spent.
"""

from __future__ import annotations

from ._budget import Budget, BudgetSnapshot
from ._cache import ResponseCache
from ._callpath import CallPath
from ._journal import JournalTotals, SpendJournal
from ._redis import RedisLimits

__all__ = [
    "Budget",
    "BudgetSnapshot",
    "CallPath",
    "JournalTotals",
    "RedisLimits",
    "ResponseCache",
    "SpendJournal",
]
