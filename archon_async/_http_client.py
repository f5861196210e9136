"""The HTTP client every provider uses: httpx's API on an aiohttp transport.

Measured on this machine (shared/design/MEASUREMENTS.md), one chat completion costs about
0.7 ms of client CPU through httpx on an aiohttp transport against 2.8-4.4 ms on httpx's
default transport, so the transport decides a batch engine's throughput (ours,
`_aiohttp_transport`, also bounds each call by its timeout as a whole). The pool is sized
from the provider's ``max_concurrency`` so that requests queue in the engine's limiters, not
inside the connection pool (httpx's pool degrades badly with thousands of waiters). A
whole-reply POST on that transport skips even httpx's request and response objects
(`AiohttpTransport.post_whole`, used by `HttpProvider`); streams and other transports (tests'
mocks, proxies) go through httpx.

Imported when a provider first builds its client (``archon_async.core`` resolves these names
on first use): importing httpx was a tenth of the command's start-up, paid by runs that send
nothing (a fully cached rerun; bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from ._http import CONNECT_TIMEOUT_S

__all__ = ["ReplyTooLargeError", "make_http_client"]

# Idle connections are kept this long, so that calls of successive layers reuse them.
_KEEPALIVE_S = 30.0


class ReplyTooLargeError(httpx.TransportError):
    """A reply body is larger than the provider's ``max_reply_bytes``; it was not read on."""


def make_http_client(
    *,
    timeout_s: float,
    max_connections: int,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    max_reply_bytes: int | None = None,
) -> httpx.AsyncClient:
    """Build one provider's shared client.

    Args:
        timeout_s: the per-request timeout (read, write and pool); connecting gets at most
            `CONNECT_TIMEOUT_S`.
        max_connections: the pool size, normally the provider's ``max_concurrency``.
        headers: headers sent with every request (never put a key here: keys rotate).
        transport: a transport to use instead of aiohttp's (tests, custom proxies).
        max_reply_bytes: the largest reply body the aiohttp transport reads (None: no cap).

    Returns:
        An `httpx.AsyncClient`; the caller owns it and closes it with ``aclose()``.
    """
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=_KEEPALIVE_S,
    )
    timeout = httpx.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s))
    if transport is None:
        # Imported here: aiohttp is costly to import and only needed once a call is made.
        from ._aiohttp_transport import AiohttpTransport

        transport = AiohttpTransport(
            max_connections=max_connections,
            keepalive_expiry=_KEEPALIVE_S,
            max_reply_bytes=max_reply_bytes,
        )
    return httpx.AsyncClient(
        transport=transport,
        limits=limits,
        timeout=timeout,
        headers=dict(headers or {}),
        follow_redirects=False,
    )
