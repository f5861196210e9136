"""Bare aiohttp + orjson: the reference for what a Python client can do on this machine."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from bench.clients._raw import base_parser, measure


async def main() -> None:
    args = base_parser(__doc__ or "").parse_args()
    url = f"{args.base_url}/chat/completions"
    headers = {"Authorization": "Bearer sim-key", "Content-Type": "application/json"}
    # The connector's limit is the admission control: at most `inflight` requests on the wire.
    connector = aiohttp.TCPConnector(limit=args.inflight, limit_per_host=args.inflight)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call(model: str, messages: list[dict[str, str]]) -> str:
            body = orjson.dumps(
                {"model": model, "messages": messages, "temperature": 0.7, "max_tokens": 2048}
            )
            async with session.post(url, data=body, headers=headers) as response:
                response.raise_for_status()
                reply = orjson.loads(await response.read())
            return str(reply["choices"][0]["message"]["content"])

        await measure(call, args, {"client": "aiohttp", "inflight": args.inflight})


if __name__ == "__main__":
    asyncio.run(main())
