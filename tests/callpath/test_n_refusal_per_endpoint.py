"""A refusal of ``n`` is remembered per endpoint and model (the endpoint the cache key
names), not per model_type and model: two servers of one model_type (two vLLM base URLs)
are told apart, and the one that takes ``n`` keeps getting requests of ``n`` after the
other refused it. Before, the refusal by one made every request to the other one a sample
each. ``--estimate`` reads the refusals where the run reads them: the cache file and the
Redis server of ``--shared-limits`` (it read the cache file only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import orjson

from archon_async import Engine
from archon_async.callpath import CallPath, RedisLimits
from archon_async.simulate import ModelSettings, SimulatedServer, SimulationSettings
from tests.cli_process import expect_status, run_cli


def _one_generator(base_url: str, samples: int = 3) -> dict[str, Any]:
    spec = {
        "type": "generator",
        "model": "m",
        "model_type": "OpenAI_Compatible",
        "base_url": base_url,
        "samples": samples,
        "max_tokens": 32,
    }
    return {"name": "one", "layers": [[spec]]}


def _refusing() -> SimulationSettings:
    return SimulationSettings(models={"m": ModelSettings(max_n=1)}, request_log=1000)


async def test_a_refusal_by_one_server_leaves_the_other_asked_n() -> None:
    taking = SimulationSettings(request_log=1000)
    async with SimulatedServer(_refusing()) as refuses, SimulatedServer(taking) as takes:
        async with CallPath() as callpath:
            first = Engine(_one_generator(refuses.openai_base_url), callpath=callpath)
            await first.generate("What is 2 + 2?")
            second = Engine(_one_generator(takes.openai_base_url), callpath=callpath)
            await second.generate("What is 3 + 3?")
            await second.generate("What is 4 + 4?")
        refused_log, taken_log = refuses.request_log(), takes.request_log()
    # The refusing server: the refused probe of n=3, then a request a sample.
    assert [(r.status, r.n) for r in refused_log] == [(400, 3)] + [(200, 1)] * 3
    # The other one, same model_type and model: asked n=3 each time, one request a prompt.
    assert [(r.status, r.n) for r in taken_log] == [(200, 3), (200, 3)], taken_log


def test_the_estimate_reads_the_refusals_shared_through_redis(
    tmp_path: Path, redis_url: str
) -> None:
    config = tmp_path / "one.json"
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(f'{{"id": {i}, "prompt": "Q{i}?"}}\n' for i in range(4)))

    async def learn(base_url: str) -> None:
        """A run of another process on the shared limits: it meets the refusal."""
        limits = RedisLimits(redis_url, prefix="est")
        async with CallPath(shared_limits=limits) as callpath:
            await Engine(_one_generator(base_url), callpath=callpath).generate("Q?")

    async def go() -> tuple[list[int], list[int]]:
        async with SimulatedServer(_refusing()) as server:
            config.write_text(orjson.dumps(_one_generator(server.openai_base_url)).decode())
            args = ["batch", str(config), "--input", str(prompts), "--output"]
            args += [str(tmp_path / "out.jsonl"), "--estimate"]
            shared = ["--shared-limits", redis_url, "--shared-limits-prefix", "est"]
            unknown = await anyio.to_thread.run_sync(lambda: run_cli(*args, *shared))
            await learn(server.openai_base_url)
            known = await anyio.to_thread.run_sync(lambda: run_cli(*args, *shared))
        return (
            orjson.loads(expect_status(unknown).stdout)["requests"],
            orjson.loads(expect_status(known).stdout)["requests"],
        )

    unknown, known = anyio.run(go)
    # Not known: n=3 at the low end (one request a prompt), a request a sample and the
    # refused probe at the high end; known from Redis: a request a sample at both ends.
    assert unknown == [4, 13], unknown
    assert known == [12, 12], known
