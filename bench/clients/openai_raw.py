"""Raw `openai.AsyncOpenAI`, with the best admission control it can be given.

A semaphore as wide as the connection pool keeps every request either on the wire or waiting
on the semaphore, never queued inside the SDK's HTTP pool; retries are off (the simulated
server does not fail here). ``--transport aiohttp`` uses the SDK's own aiohttp-backed client.
"""

from __future__ import annotations

import asyncio

import httpx2
import openai

from bench.clients._raw import base_parser, measure


async def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--transport", choices=("httpx", "aiohttp"), default="httpx")
    args = parser.parse_args()

    pool = httpx2.Limits(max_connections=args.inflight, max_keepalive_connections=args.inflight)
    if args.transport == "aiohttp":
        http_client = openai.DefaultAioHttpClient(limits=pool)
    else:
        http_client = openai.DefaultAsyncHttpxClient(limits=pool)
    client = openai.AsyncOpenAI(
        base_url=args.base_url, api_key="sim-key", max_retries=0, http_client=http_client
    )
    gate = asyncio.Semaphore(args.inflight)
    async with client:

        async def call(model: str, messages: list[dict[str, str]]) -> str:
            async with gate:
                completion = await client.chat.completions.create(
                    model=model,
                    messages=messages,  # type: ignore[arg-type]
                    temperature=0.7,
                    max_tokens=2048,
                )
            return completion.choices[0].message.content or ""

        extra = {"client": f"openai-{args.transport}", "inflight": args.inflight}
        await measure(call, args, extra)


if __name__ == "__main__":
    asyncio.run(main())
