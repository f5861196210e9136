"""A provider's refusal of ``n`` is remembered where processes share state: the cache file
and the Redis store of shared limits; a second process (a call path of its own) does not ask
``n`` first."""

from __future__ import annotations

import uuid
from pathlib import Path

import anyio

from archon_async import CallPath, Engine, ResponseCache
from archon_async.callpath import RedisLimits
from archon_async.simulate import ModelSettings, SimulatedServer, SimulationSettings
from tests.callpath.test_samples import generator, sent_choices


def _refusing() -> SimulationSettings:
    # Model m takes at most 3 samples a request and says so in its 400.
    return SimulationSettings(request_log=100, models={"m": ModelSettings(max_n=3)})


async def test_the_next_process_on_the_cache_file_does_not_ask_n_first(tmp_path: Path) -> None:
    async with SimulatedServer(_refusing()) as server:
        for prompt in ("one", "two"):  # each a call path of its own: a process's state
            cache = ResponseCache(tmp_path / "cache.sqlite")
            async with CallPath(simulate=server.base_url, cache=cache) as calls:
                await Engine(generator("OpenAI_API", 7), callpath=calls).generate(prompt)
        assert sent_choices(server) == [7, 3, 2, 2, 3, 2, 2]  # the second: in threes at once
        assert server.stats().bad_requests == 1


async def test_a_process_already_running_learns_it_from_the_cache_file(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    async with SimulatedServer(_refusing()) as server:
        async with (
            CallPath(simulate=server.base_url, cache=ResponseCache(path)) as first,
            CallPath(simulate=server.base_url, cache=ResponseCache(path)) as second,
        ):
            await Engine(generator("OpenAI_API", 7), callpath=first).generate("one")
            await Engine(generator("OpenAI_API", 7), callpath=second).generate("two")
        assert sent_choices(server) == [7, 3, 2, 2, 3, 2, 2]
        assert server.stats().bad_requests == 1


async def test_the_next_process_on_the_shared_limits_does_not_ask_n_first(
    redis_url: str,
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    async with SimulatedServer(_refusing()) as server:
        for prompt in ("one", "two"):  # no cache: Redis alone carries it
            limits = RedisLimits(redis_url, prefix=prefix)
            async with CallPath(simulate=server.base_url, shared_limits=limits) as calls:
                await Engine(generator("OpenAI_API", 7), callpath=calls).generate(prompt)
        assert sent_choices(server) == [7, 3, 2, 2, 3, 2, 2]
        assert server.stats().bad_requests == 1


async def test_a_process_already_running_learns_it_from_the_shared_limits(
    redis_url: str,
) -> None:
    """Both open before the refusal: the second re-reads Redis (at most once a second, as
    it re-reads the cache file) and does not ask ``n`` first."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    async with SimulatedServer(_refusing()) as server:
        async with (
            CallPath(simulate=server.base_url, shared_limits=RedisLimits(redis_url, prefix=prefix))
            as first,
            CallPath(simulate=server.base_url, shared_limits=RedisLimits(redis_url, prefix=prefix))
            as second,
        ):  # fmt: skip
            await Engine(generator("OpenAI_API", 7), callpath=first).generate("one")
            assert first.shared_limits is not None
            for _ in range(3000):  # written to Redis in the background
                if await first.shared_limits.refusals():
                    break
                await anyio.sleep(0.01)
            await anyio.sleep(1.1)  # more than the second between two reads
            await Engine(generator("OpenAI_API", 7), callpath=second).generate("two")
        assert sent_choices(server) == [7, 3, 2, 2, 3, 2, 2]
        assert server.stats().bad_requests == 1
