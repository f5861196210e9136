"""``--estimate``'s high end counts every parse retry, the ranker's too: a ranker whose
replies never hold a ranking is asked 3 more times (components/ranker.py), so a prompt of
the default architecture can make 15 calls, not 12. The estimate's high end said 12
(found by the new-user test: "high: every parse retry" with calls [240, 240])."""

from __future__ import annotations

from aiohttp import web

from archon_async import Architecture, Engine
from archon_async.callpath._estimate import estimate
from tests.local_http import serving


def never_ranking_server(prompts: list[str]) -> web.Application:
    """Answers every request; the ranker's asks get prose with no ranking in it."""

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        prompts.append(body["messages"][-1]["content"])
        n = int(body.get("n", 1))
        text = "I cannot decide which is better." if "[1]" in prompts[-1] else "391"
        return web.json_response(
            {
                "choices": [
                    {"index": i, "message": {"content": text}, "finish_reason": "stop"}
                    for i in range(n)
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": n},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


async def test_the_high_end_holds_a_ranker_that_never_parses() -> None:
    seen: list[str] = []
    async with serving(never_ranking_server(seen)) as url:
        architecture = Architecture.from_name("default").with_overrides(
            base_url=f"{url}/v1", model="m"
        )
        async with Engine(architecture) as engine:
            result = await engine.generate("What is 17 * 23?")
    made = result.trace.totals()["calls"]
    assert made == 10 + 4 + 1  # the samples, the ranking asked 4 times, the fusion
    low, high = estimate(architecture, ["What is 17 * 23?"]).to_dict()["calls"]  # type: ignore[misc]
    # The high end: 15, and the refused probe of n it foresees for the one model ("m").
    assert low == 12 <= made <= high == 15 + 1
