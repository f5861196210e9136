"""``POST /v1/chat/completions``: runs an architecture for each choice asked, whole or streamed.

A request's ``n`` choices are ``n`` concurrent runs (choice i is seeded ``seed + i``). The
client's connection is watched while they run: a client that goes away cancels them, and
with them every provider call they started. A streamed answer starts its response (status,
headers, the role chunks) when its first text is ready, so a run that fails before writing
anything is answered with the error's own status; a failure after that ends the stream
with an error event, as OpenAI's API does.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from .._concurrency import gather
from .._engine import Engine
from .._exceptions import ArchonError
from .._logging import get_logger
from .._trace import Result
from ._errors import ServeError, error_body, error_response, from_exception
from ._protocol import CompletionRequest, chunk, completion, parse_request, usage_of
from ._stop import StopScanner, cut_at_stop

if TYPE_CHECKING:
    from ._app import ArchonService

__all__ = ["TRACE_HEADER", "ChatEndpoint"]

log = get_logger(__name__)

#: The response header naming the request's trace (``GET /v1/traces/{id}``).
TRACE_HEADER = "x-archon-trace-id"
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # proxies must not hold the events back
]
_DONE = b"data: [DONE]\n\n"
T = TypeVar("T")

DeltaSender = Callable[[int, str], Awaitable[None]]
DoneSender = Callable[[int], Awaitable[None]]


class ChatEndpoint:
    """The ASGI app behind ``POST /v1/chat/completions``."""

    def __init__(self, service: ArchonService) -> None:
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service = self.service
        request = Request(scope, receive)
        trace_id = f"chatcmpl-{uuid.uuid4().hex}"
        ids = {TRACE_HEADER: trace_id, "x-request-id": trace_id}
        responded = False

        async def tracked(message: Message) -> None:
            nonlocal responded
            responded = responded or message["type"] == "http.response.start"
            await send(message)

        try:
            caller = service.gate.identify(request.headers.get("authorization"))
            with service.gate.slot(caller):
                params = parse_request(await _read_json(request, service.max_body_bytes))
                engine = service.engine_for(params.model)
                call = _Call(service, engine, params, caller, trace_id, scope, receive, tracked)
                await (call.stream() if params.stream else call.complete())
        except Exception as exc:
            error = from_exception(exc)
            if error.status >= 500:
                log.warning("serve_request_failed", status=error.status, error=error.message)
            if not responded:  # answer in OpenAI's error shape while a status can be sent
                await error_response(error, ids)(scope, receive, send)
        except asyncio.CancelledError:
            # The grace period of a shutdown is over: say so to a client still waiting.
            if service.draining and not responded:
                await error_response(_SHUTTING_DOWN, ids)(scope, receive, send)
            raise


_SHUTTING_DOWN = ServeError(
    503,
    "the server shut down before the answer was ready: retry the request",
    type="server_error",
    code="server_shutting_down",
)


class _Call:
    """One chat-completions request being answered."""

    def __init__(
        self,
        service: ArchonService,
        engine: Engine,
        params: CompletionRequest,
        caller: str,
        trace_id: str,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        self.service = service
        self.scope = scope
        self.engine = engine
        self.params = params
        self.caller = caller
        self.trace_id = trace_id
        self.receive = receive
        self.send = send
        self.created = int(time.time())
        self.fingerprint = service.fingerprint(engine)
        self.ids = {TRACE_HEADER: trace_id, "x-request-id": trace_id}

    async def complete(self) -> None:
        """Answer with one ``chat.completion`` once every choice is written."""
        finished, results = await _until_disconnected(self.receive, lambda: self._run_all())
        if not finished or results is None:
            return  # the client went away: the runs were cancelled
        body = completion(
            self.trace_id,
            self.params.model,
            [cut_at_stop(result.text, self.params.stop) for result in results],
            _usage(results),
            fingerprint=self.fingerprint,
            created=self.created,
        )
        response = Response(orjson.dumps(body), media_type="application/json", headers=self.ids)
        await response(self.scope, self.receive, self.send)

    async def stream(self) -> None:
        """Answer with server-sent ``chat.completion.chunk`` events, then ``[DONE]``."""
        writer = _ChunkWriter(self)
        try:
            finished, results = await _until_disconnected(
                self.receive, lambda: self._run_all(writer.delta, writer.done)
            )
        except Exception as exc:
            if not writer.started:
                raise
            await writer.event(error_body(from_exception(exc)))
            await writer.end()
            return
        if not finished or results is None:
            return
        await writer.start()  # a run that wrote nothing still gets its role chunks
        if self.params.include_usage:
            await writer.event(self._chunk(usage=_usage(results)))
        await writer.raw(_DONE)
        await writer.end()

    def _chunk(self, **fields: Any) -> dict[str, Any]:
        return chunk(
            self.trace_id,
            self.params.model,
            self.created,
            self.fingerprint,
            include_usage=self.params.include_usage,
            **fields,
        )

    async def _run_all(
        self, on_delta: DeltaSender | None = None, on_done: DoneSender | None = None
    ) -> list[Result]:
        """Run every choice concurrently; the first failure cancels the others."""
        params = self.params
        base_seed = self.engine.seed if params.seed is None else params.seed
        outcomes: dict[int, Result | ArchonError] = {}

        async def one(index: int) -> Result:
            sink = None if on_delta is None else _bound(on_delta, index)
            try:
                result = await self.engine.generate(
                    params.messages,
                    seed=base_seed + index,
                    temperature=params.temperature,
                    top_p=params.top_p,
                    max_tokens=params.max_tokens,
                    on_delta=sink,
                )
            except ArchonError as exc:
                outcomes[index] = exc
                raise
            outcomes[index] = result
            if on_done is not None:
                await on_done(index)
            return result

        try:
            return await gather([lambda i=i: one(i) for i in range(params.n)])  # type: ignore[misc]
        finally:
            self._keep_trace(outcomes)

    def _keep_trace(self, outcomes: dict[int, Result | ArchonError]) -> None:
        # Kept as they are and made JSON only when asked for: most traces are never read.
        kept = dict(outcomes)
        header = {
            "id": self.trace_id,
            "object": "archon.trace",
            "created": self.created,
            "model": self.params.model,
            "architecture_fingerprint": self.fingerprint,
        }

        def payload() -> dict[str, Any]:
            return {**header, "choices": [_choice_trace(i, kept[i]) for i in sorted(kept)]}

        self.service.traces.put(self.trace_id, self.caller, payload)


def _choice_trace(index: int, outcome: Result | ArchonError) -> dict[str, Any]:
    """One choice's trace as JSON (a failed run's error and what it did before)."""
    if isinstance(outcome, Result):
        return {"index": index, "trace": outcome.trace.to_dict()}
    choice: dict[str, Any] = {"index": index, "error": from_exception(outcome).message}
    if outcome.trace is not None:
        choice["trace"] = outcome.trace.to_dict()
    return choice


class _ChunkWriter:
    """Writes a stream's events; the response starts with the first text (or at the end)."""

    def __init__(self, call: _Call) -> None:
        self.call = call
        self.started = False
        self._pending = b""
        # asyncio's lock takes no turn of the loop when it is free (anyio's always does):
        # one less wait before each piece of text.
        self._lock = asyncio.Lock()
        stops = call.params.stop
        # Each choice's text is cut at its first stop sequence (none: sent as it comes).
        self._scanners = [StopScanner(stops) for _ in range(call.params.n)] if stops else None

    async def start(self) -> None:
        if self.started:
            return
        self.started = True
        headers = [*_SSE_HEADERS, *((k.encode(), v.encode()) for k, v in self.call.ids.items())]
        await self.call.send({"type": "http.response.start", "status": 200, "headers": headers})
        role = {"role": "assistant", "content": "", "refusal": None}
        # The role chunks leave with the first text, in one write.
        self._pending = b"".join(
            _event(self.call._chunk(index=index, delta=role)) for index in range(self.call.params.n)
        )

    async def delta(self, index: int, text: str) -> None:
        if self._scanners is not None:
            text = self._scanners[index].feed(text)
            if not text:
                return
        async with self._lock:  # the choices' runs write concurrently
            await self.start()
            await self.event(self.call._chunk(index=index, delta={"content": text}))

    async def done(self, index: int) -> None:
        held = self._scanners[index].flush() if self._scanners is not None else ""
        async with self._lock:
            await self.start()
            if held:  # the end of the answer: what might have begun a stop sequence
                await self.event(self.call._chunk(index=index, delta={"content": held}))
            await self.event(self.call._chunk(index=index, delta={}, finish_reason="stop"))

    async def event(self, data: dict[str, Any]) -> None:
        await self.raw(_event(data))

    async def raw(self, data: bytes) -> None:
        if self._pending:
            data, self._pending = self._pending + data, b""
        await self.call.send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self) -> None:
        data, self._pending = self._pending, b""
        await self.call.send({"type": "http.response.body", "body": data, "more_body": False})


def _event(data: dict[str, Any]) -> bytes:
    """One server-sent event carrying a JSON object."""
    return b"data: " + orjson.dumps(data) + b"\n\n"


def _bound(on_delta: DeltaSender, index: int) -> Callable[[str], Awaitable[None]]:
    async def deliver(text: str) -> None:
        await on_delta(index, text)

    return deliver


def _usage(results: list[Result]) -> dict[str, int]:
    """The whole architecture's tokens, over every choice's run."""
    return usage_of(
        sum(result.trace.input_tokens for result in results),
        sum(result.trace.output_tokens for result in results),
    )


async def _until_disconnected(
    receive: Receive, work: Callable[[], Awaitable[T]]
) -> tuple[bool, T | None]:
    """Run ``work`` while watching the connection: (True, its value), or (False, None) when
    the client disconnected first, in which case ``work`` was cancelled."""
    value: list[T] = []
    errors: list[Exception] = []

    async with anyio.create_task_group() as group:

        async def watch() -> None:
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    group.cancel_scope.cancel()
                    return

        async def run() -> None:
            try:
                value.append(await work())
            except Exception as exc:  # raised below, outside the task group's wrapping
                errors.append(exc)
            group.cancel_scope.cancel()

        group.start_soon(watch)
        group.start_soon(run)
    if errors:
        raise errors[0]
    return (True, value[0]) if value else (False, None)


async def _read_json(request: Request, limit: int) -> Any:
    """The request's JSON body, read up to ``limit`` bytes.

    Raises:
        ServeError: 413 for a body over the limit, 400 for one that is not JSON.
    """
    too_large = ServeError(
        413,
        f"the request body is larger than the server's limit of {limit} bytes",
        code="request_too_large",
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    parts: list[bytes] = []
    size = 0
    try:
        async for part in request.stream():
            size += len(part)
            if size > limit:
                raise too_large
            parts.append(part)
    except ClientDisconnect:
        raise ServeError(400, "the client disconnected while sending the body") from None
    try:
        return orjson.loads(b"".join(parts))
    except orjson.JSONDecodeError as exc:
        raise ServeError(400, f"the request body is not valid JSON: {exc}") from None
