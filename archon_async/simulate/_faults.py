"""Injected faults: server errors, hung requests, reset connections, broken bodies."""

from __future__ import annotations

import asyncio
import random
import socket
import struct

import orjson
from aiohttp import web

from ._responses import Choice, ErrorKind, error_reply, reply_body
from ._settings import FaultKind
from ._wire import Inbound

__all__ = ["inject_fault"]


async def inject_fault(
    request: web.Request,
    fault: FaultKind,
    inbound: Inbound,
    draw: random.Random,
    timeout_s: float,
    headers: dict[str, str],
) -> web.StreamResponse:
    """Answer ``request`` with ``fault`` instead of a reply."""
    if fault == "5xx":
        kind = draw.choice((ErrorKind.SERVER, ErrorKind.UNAVAILABLE))
        return _error(inbound, kind, "the simulated server failed (injected fault)", headers)
    if fault == "timeout":
        # Far longer than a client's timeout: the client gives up, which cancels this handler.
        await asyncio.sleep(timeout_s)
        return _error(inbound, ErrorKind.TIMEOUT, "the request timed out (injected)", headers)
    if fault == "reset":
        _reset(request)
        # The connection is gone; nothing can be written any more.
        raise asyncio.CancelledError
    if fault == "malformed":
        whole = _body(inbound, [Choice("...")])
        return _raw(whole[: len(whole) // 2], headers)
    # "empty": no choice at all, or one with empty text.
    choices = [Choice("")] if draw.random() < 0.5 else []
    return _raw(_body(inbound, choices), headers)


def _body(inbound: Inbound, choices: list[Choice]) -> bytes:
    body = reply_body(inbound, choices, reply_id="0" * 16, prompt_tokens=0, completion_tokens=0)
    return orjson.dumps(body)


def _reset(request: web.Request) -> None:
    """Close the connection with a TCP RST (SO_LINGER 0), as a crashed peer would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _raw(body: bytes, headers: dict[str, str]) -> web.Response:
    return web.Response(status=200, body=body, headers=headers, content_type="application/json")


def _error(
    inbound: Inbound, kind: ErrorKind, message: str, headers: dict[str, str]
) -> web.Response:
    status, body, extra = error_reply(inbound.wire, kind, message)
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        headers={**headers, **extra},
        content_type="application/json",
    )
