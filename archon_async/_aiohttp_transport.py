"""An httpx transport on an aiohttp connection pool, lean enough for a batch engine's hot path.

httpx's API stays (every provider holds an ``httpx.AsyncClient``; tests mount respx or a
``MockTransport`` in its place), but the bytes travel through aiohttp, whose HTTP/1.1 client
costs a fraction of httpcore's CPU per call (shared/design/MEASUREMENTS.md). Compared with the
httpx-aiohttp package, this transport reads each reply whole instead of streaming it through
an async iterator, hands aiohttp plain header tuples, gives every call an overall deadline
(a server that trickles bytes cannot hold a call past its timeout) and maps aiohttp's errors
to the httpx exception that names what happened: a dropped connection is a ``ReadError``, not
a ``ConnectTimeout``.

`AiohttpTransport.post_whole` is the providers' hot path: a whole-reply POST that skips
httpx's request and response objects (about a third of a call's client CPU, profiled in
bench/RESULTS.md, "Wire hot path"), returning a `WholeReply` for a plain success and an
`httpx.Response` for anything else (an error status, an encoded body), so that error
handling reads exactly what it read before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any

import aiohttp
import httpx

from ._http import STREAM_EXTENSION
from ._http_client import ReplyTooLargeError

__all__ = ["AiohttpTransport", "WholeReply"]

# Bodies are read in pieces this big when a cap applies.
_CHUNK_BYTES = 256 * 1024


class WholeReply:
    """A successful, unencoded reply read whole: what `httpx.Response` would hold, as plain
    attributes (status, headers, body), for the providers' success path."""

    __slots__ = ("content", "headers", "reason_phrase", "status_code")

    def __init__(
        self, status_code: int, headers: Mapping[str, str], content: bytes, reason: str
    ) -> None:
        self.status_code = status_code
        #: Case-insensitive, as httpx's.
        self.headers = headers
        self.content = content
        self.reason_phrase = reason

    @property
    def text(self) -> str:
        """The body as text (UTF-8, undecodable bytes replaced), as httpx reads a JSON reply."""
        return self.content.decode("utf-8", errors="replace")


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests through one aiohttp ``ClientSession``, opened on first use.

    Args:
        max_connections: the connection pool's size (aiohttp queues requests beyond it).
        keepalive_expiry: seconds an idle connection is kept.
        max_reply_bytes: the largest reply body read; None reads any size.

    Only what the providers need is supported: buffered request bodies, whole replies, no
    redirects, no proxies read from the environment.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        keepalive_expiry: float = 30.0,
        max_reply_bytes: int | None = None,
    ) -> None:
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._max_reply_bytes = max_reply_bytes
        self._session: aiohttp.ClientSession | None = None
        # post_whole's deadline, mapped once from the client's (stable) timeouts.
        self._timeouts: httpx.Timeout | None = None
        self._deadline = aiohttp.ClientTimeout()

    def __repr__(self) -> str:
        state = "open" if self._session is not None else "unopened"
        return f"AiohttpTransport(max_connections={self._max_connections}, {state})"

    def _open_session(self) -> aiohttp.ClientSession:
        # Created inside the running loop, where aiohttp wants its session to be born.
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=0,
            keepalive_timeout=self._keepalive_expiry,
            ssl=httpx.create_ssl_context(),
        )
        # auto_decompress off: httpx decodes the body from its content-encoding header.
        self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request and return the whole reply.

        Raises:
            httpx.TimeoutException: connecting, waiting for a connection or the reply took
                longer than the request's timeouts.
            httpx.TransportError: the connection failed or broke.
            ReplyTooLargeError: the body is over ``max_reply_bytes`` (not read further).
        """
        session = self._session or self._open_session()
        timeouts: dict[str, Any] = request.extensions.get("timeout") or {}
        read = timeouts.get("read")
        deadline = aiohttp.ClientTimeout(
            total=read,
            connect=timeouts.get("pool"),
            sock_connect=timeouts.get("connect"),
            sock_read=read,
        )
        # Built once for both paths: awaited, it returns at the headers (a stream);
        # entered, it reads the whole reply and frees the connection on exit.
        sending = session.request(
            request.method,
            str(request.url),
            data=await request.aread() or None,
            headers=request.headers.multi_items(),
            allow_redirects=False,
            timeout=deadline,
        )
        if request.extensions.get(STREAM_EXTENSION):
            return await _open_stream(sending, request)
        try:
            async with sending as reply:
                content = await self._read_body(reply, request)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _as_httpx_error(exc, request) from exc
        return httpx.Response(
            reply.status,
            headers=reply.raw_headers,
            content=content,
            request=request,
            extensions=_extensions(reply),
        )

    async def post_whole(
        self,
        url: str,
        content: bytes,
        headers: Mapping[str, str],
        timeouts: httpx.Timeout,
    ) -> WholeReply | httpx.Response:
        """POST ``content`` and read the whole reply, without httpx's request machinery.

        The wire is the same as `handle_async_request`'s for the same URL, body and headers
        (aiohttp adds ``Host`` and ``Content-Length`` either way).

        Args:
            url: the absolute URL.
            content: the body.
            headers: the request headers.
            timeouts: the client's timeouts, mapped as `handle_async_request` maps them.

        Returns:
            A `WholeReply` for a status under 400 with no content-encoding; otherwise an
            `httpx.Response` (its body decoded as httpx decodes it).

        Raises:
            As `handle_async_request`.
        """
        session = self._session or self._open_session()
        if timeouts is not self._timeouts:
            self._timeouts, self._deadline = timeouts, _client_timeout(timeouts)
        try:
            async with session.post(
                url, data=content, headers=headers, allow_redirects=False, timeout=self._deadline
            ) as reply:
                body = await self._read_body(reply, None)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _as_httpx_error(exc, None) from exc
        if reply.status < 400 and "content-encoding" not in reply.headers:
            return WholeReply(reply.status, reply.headers, body, reply.reason or "")
        return httpx.Response(
            reply.status, headers=reply.raw_headers, content=body, extensions=_extensions(reply)
        )

    async def _read_body(
        self, reply: aiohttp.ClientResponse, request: httpx.Request | None
    ) -> bytes:
        """The whole body, or `ReplyTooLargeError` once it passes ``max_reply_bytes``: a
        runaway reply (one 200 MB answer was seen) is cut before it fills memory."""
        cap = self._max_reply_bytes
        length = reply.content_length
        if cap is None or (length is not None and length <= cap):
            # A length within the cap (nearly every reply) is read in one piece: aiohttp
            # reads no more than it. Piece by piece (below) cost ~10 us of CPU a call more
            # (bench/RESULTS.md, "Measure 3, seventh pass").
            return await reply.read()
        if length is not None:
            reply.close()  # the connection is not reused: the rest is never read
            raise _too_large(request, cap)
        # No length given (chunked): counted as it comes, cut once past the cap.
        body = bytearray()
        async for chunk in reply.content.iter_chunked(_CHUNK_BYTES):
            body += chunk
            if len(body) > cap:
                reply.close()
                raise _too_large(request, cap)
        return bytes(body)

    async def aclose(self) -> None:
        """Close the pool's connections."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def _client_timeout(timeout: httpx.Timeout) -> aiohttp.ClientTimeout:
    """aiohttp's deadline for a whole-reply call, as `handle_async_request` maps httpx's
    timeouts: the read timeout bounds the call as a whole, the pool timeout the wait for a
    connection, the connect timeout the connecting. No per-read timeout: equal to the
    whole call's and started later, it could never fire first, and aiohttp re-arms its
    timer on every piece of data read."""
    return aiohttp.ClientTimeout(
        total=timeout.read, connect=timeout.pool, sock_connect=timeout.connect
    )


def _too_large(request: httpx.Request | None, cap: int) -> ReplyTooLargeError:
    return ReplyTooLargeError(f"the reply is larger than {cap} bytes", request=request)


async def _open_stream(
    sending: Awaitable[aiohttp.ClientResponse], request: httpx.Request
) -> httpx.Response:
    """Send a request and return as soon as the headers are in: the body streams as read.

    The deadline still bounds the call as a whole, body included.
    """
    try:
        reply = await sending
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise _as_httpx_error(exc, request) from exc
    return httpx.Response(
        reply.status,
        headers=reply.raw_headers,
        stream=_ReplyStream(reply, request),
        request=request,
        extensions=_extensions(reply),
    )


def _extensions(reply: aiohttp.ClientResponse) -> dict[str, Any]:
    """The httpx response extensions of an aiohttp reply (HTTP version, reason phrase)."""
    extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
    if reply.reason:
        extensions["reason_phrase"] = reply.reason.encode()
    return extensions


class _ReplyStream(httpx.AsyncByteStream):
    """An aiohttp reply's body as httpx reads a stream; closing it frees the connection
    (back to the pool when the body was read to its end, closed otherwise)."""

    def __init__(self, reply: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._reply = reply
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._reply.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _as_httpx_error(exc, self._request) from exc

    async def aclose(self) -> None:
        self._reply.release()


def _as_httpx_error(exc: BaseException, request: httpx.Request | None) -> httpx.TransportError:
    """The httpx exception that says what happened to an aiohttp call."""
    message = str(exc) or type(exc).__name__
    error: httpx.TransportError
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        error = httpx.ConnectTimeout(message, request=request)
    elif isinstance(exc, TimeoutError):  # aiohttp's other timeouts derive from it
        error = httpx.ReadTimeout(message, request=request)
    elif isinstance(exc, aiohttp.ClientConnectorError):
        error = httpx.ConnectError(message, request=request)
    elif isinstance(exc, aiohttp.InvalidURL):
        error = httpx.UnsupportedProtocol(message, request=request)
    elif isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        error = httpx.RemoteProtocolError(message, request=request)
    else:
        error = httpx.ReadError(message, request=request)
    return error
