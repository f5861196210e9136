"""The HTTP client every provider uses: httpx's API on the aiohttp transport.

Measured on this machine (shared/design/MEASUREMENTS.md), one chat completion costs about
0.7 ms of client CPU through httpx on the aiohttp transport against 2.8-4.4 ms on httpx's
default transport, so the transport decides a batch engine's throughput. The pool is sized
from the provider's ``max_concurrency`` so that requests queue in the engine's limiters, not
inside the connection pool (httpx's pool degrades badly with thousands of waiters).
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

__all__ = ["CONNECT_TIMEOUT_S", "make_http_client"]

#: Connecting should be quick; a slow connect means the host is unreachable or overloaded.
CONNECT_TIMEOUT_S = 10.0


def make_http_client(
    *,
    timeout_s: float,
    max_connections: int,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """Build one provider's shared client.

    Args:
        timeout_s: the per-request timeout (read, write and pool); connecting gets at most
            `CONNECT_TIMEOUT_S`.
        max_connections: the pool size, normally the provider's ``max_concurrency``.
        headers: headers sent with every request (never put a key here: keys rotate).
        transport: a transport to use instead of aiohttp's (tests, custom proxies).

    Returns:
        An `httpx.AsyncClient`; the caller owns it and closes it with ``aclose()``.
    """
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
    )
    timeout = httpx.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s))
    if transport is None:
        # Imported here: aiohttp is costly to import and only needed once a call is made.
        from httpx_aiohttp import AiohttpTransport

        transport = AiohttpTransport(limits=limits)
    return httpx.AsyncClient(
        transport=transport,
        limits=limits,
        timeout=timeout,
        headers=dict(headers or {}),
        follow_redirects=False,
    )
