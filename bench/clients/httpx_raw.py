"""Raw `httpx.AsyncClient`: default transport (httpcore + h11) or the aiohttp transport."""

from __future__ import annotations

import asyncio

import httpx
import orjson

from bench.clients._raw import base_parser, measure


async def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--transport", choices=("default", "aiohttp"), default="default")
    args = parser.parse_args()
    url = f"{args.base_url}/chat/completions"
    headers = {"Authorization": "Bearer sim-key", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=args.inflight, max_keepalive_connections=args.inflight)
    timeout = httpx.Timeout(120.0)
    if args.transport == "aiohttp":
        from httpx_aiohttp import HttpxAiohttpClient

        client: httpx.AsyncClient = HttpxAiohttpClient(limits=limits, timeout=timeout)
    else:
        client = httpx.AsyncClient(limits=limits, timeout=timeout)
    # A semaphore as wide as the pool keeps requests from queueing inside httpcore's pool,
    # whose cost grows with the square of its queue (see MEASUREMENTS.md).
    gate = asyncio.Semaphore(args.inflight)
    async with client:

        async def call(model: str, messages: list[dict[str, str]]) -> str:
            body = orjson.dumps(
                {"model": model, "messages": messages, "temperature": 0.7, "max_tokens": 2048}
            )
            async with gate:
                response = await client.post(url, content=body, headers=headers)
            response.raise_for_status()
            return str(orjson.loads(response.content)["choices"][0]["message"]["content"])

        extra = {"client": f"httpx-{args.transport}", "inflight": args.inflight}
        await measure(call, args, extra)


if __name__ == "__main__":
    asyncio.run(main())
