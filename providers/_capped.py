"""A streamed reply's body cut at the provider's ``max_reply_bytes``.

Apart from `providers._streaming` so that httpx, whose stream class this extends, is imported
only once a stream is read (a run that sends nothing never imports it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from archon_async.core import ReplyTooLargeError

__all__ = ["Capped"]


class Capped(httpx.AsyncByteStream):
    """A reply body that raises `ReplyTooLargeError` once more than ``cap`` bytes came."""

    def __init__(self, stream: httpx.SyncByteStream | httpx.AsyncByteStream, cap: int) -> None:
        assert isinstance(stream, httpx.AsyncByteStream)  # an async client's are
        self._stream = stream
        self._cap = cap

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in self._stream:
            size += len(chunk)
            if size > self._cap:
                raise ReplyTooLargeError(f"the reply is larger than {self._cap} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()
