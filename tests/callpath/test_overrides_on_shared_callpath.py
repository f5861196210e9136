"""The README's two ways combined: an architecture pointed at one server
(``with_overrides(base_url=...)``) run on a shared `CallPath` whose providers section sets
limits only. The base URL lived in the architecture's providers section, which an engine
on a shared call path does not read, so the engine refused to open: "has no base URL:
... give 'base_url' in this component" (the user had given one)."""

from __future__ import annotations

import anyio

from archon_async import Architecture, CallPath, Engine
from archon_async.simulate import SimulatedServer, SimulationSettings


def test_an_overridden_architecture_calls_its_server_through_a_shared_callpath() -> None:
    async def go() -> tuple[list[str], int]:
        async with SimulatedServer(SimulationSettings(request_log=100)) as server:
            url = server.openai_base_url
            one = Architecture.from_name("single_model").with_overrides(base_url=url, model="a")
            moa = Architecture.from_name("archon/MoA-lite").with_overrides(base_url=url, model="b")
            limits = {"OpenAI_Compatible": {"rpm": 6000}}
            async with CallPath(providers=limits) as calls:
                results = [
                    await Engine(one, callpath=calls).generate("Hello?"),
                    await Engine(moa, callpath=calls).generate("Hello?"),
                ]
            return [r.text for r in results], len(server.request_log())

    texts, requests = anyio.run(go)
    assert all(texts)
    assert requests == 1 + 7  # single_model's call and MoA-lite's seven, at that server
