"""The ASGI application: `create_app`, the routes, and the service they share.

Routes: ``GET /v1/models`` (and ``/v1/models/{model}``), ``POST /v1/chat/completions``,
``GET /v1/traces/{id}`` (a request's trace, for the caller that made it), ``GET /health``
(the process answers) and ``GET /ready`` (the architectures can take requests: engines
open, keys present, not shutting down). Health and readiness need no key.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._architecture import Architecture
from .._engine import Engine
from .._exceptions import ArchonError, ConfigError
from ..callpath import RedisLimits
from ._auth import Gate
from ._chat import ChatEndpoint
from ._errors import ServeError, error_response
from ._traces import TraceStore

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_CONCURRENT",
    "ArchonService",
    "create_app",
]

#: The largest request body accepted (a long conversation fits many times over).
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
#: The most requests one API key may have in flight.
DEFAULT_MAX_CONCURRENT = 256
#: How many request traces are kept for ``GET /v1/traces/{id}``.
DEFAULT_TRACE_HISTORY = 1000


class ArchonService:
    """What the routes share: the engines by model name, the gate and the traces.

    Args:
        engines: one engine per served architecture, named by its config's ``name``.
        api_keys: the keys callers may present (none: no authentication).
        max_body_bytes: the largest request body accepted (413 beyond).
        max_concurrent_per_key: the most requests in flight per key (429 beyond).
        trace_history: how many request traces are kept.

    Raises:
        ConfigError: two architectures share a name, or no architecture is given.
    """

    def __init__(
        self,
        engines: Sequence[Engine],
        *,
        api_keys: Iterable[SecretStr] = (),
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_concurrent_per_key: int = DEFAULT_MAX_CONCURRENT,
        trace_history: int = DEFAULT_TRACE_HISTORY,
    ) -> None:
        if not engines:
            raise ConfigError("give at least one architecture to serve")
        self.engines: dict[str, Engine] = {}
        for engine in engines:
            name = engine.architecture.name
            if name in self.engines:
                raise ConfigError(
                    f"two architectures are named {name!r}: models are served by their "
                    "config's name, so give each config its own",
                    source=engine.architecture.source,
                )
            self.engines[name] = engine
        self.gate = Gate(api_keys, max_concurrent=max_concurrent_per_key)
        self.max_body_bytes = max_body_bytes
        self.traces = TraceStore(trace_history)
        #: Set when the server is shutting down: readiness then answers 503.
        self.draining = False
        self._fingerprints: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"ArchonService(models={sorted(self.engines)}, {self.gate!r})"

    def fingerprint(self, engine: Engine) -> str:
        """The ``system_fingerprint`` of an architecture's answers (its layers' digest)."""
        name = engine.architecture.name
        found = self._fingerprints.get(name)
        if found is None:
            found = self._fingerprints[name] = f"archon-{engine.architecture.fingerprint()}"
        return found

    def engine_for(self, model: str) -> Engine:
        """The engine serving ``model``.

        Raises:
            ServeError: 404 naming the served models.
        """
        engine = self.engines.get(model)
        if engine is None:
            served = ", ".join(sorted(self.engines))
            raise ServeError(
                404,
                f"The model '{model}' does not exist: this server serves {served} "
                "(GET /v1/models lists them)",
                param="model",
                code="model_not_found",
            )
        return engine

    async def open(self) -> None:
        """Open every engine (connection pools; a missing provider key fails here).

        Raises:
            ConfigError: an architecture needs a key or setting that is missing.
        """
        for engine in self.engines.values():
            await engine.open()

    async def aclose(self) -> None:
        """Close every engine (call it when the app was mounted without its lifespan)."""
        for engine in self.engines.values():
            await engine.aclose()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object) -> AsyncIterator[None]:
        """Open the engines at startup and close them at shutdown."""
        await self.open()
        try:
            yield
        finally:
            self.draining = True
            await self.aclose()


def create_app(
    architectures: Sequence[Engine | Architecture | str | Path | Mapping[str, Any]],
    *,
    api_keys: Iterable[str | SecretStr] = (),
    simulate: Any = False,
    keys: Any = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_concurrent_per_key: int = DEFAULT_MAX_CONCURRENT,
    trace_history: int = DEFAULT_TRACE_HISTORY,
    shared_limits: str | None = None,
    shared_limits_prefix: str = "archon",
) -> Starlette:
    """An ASGI app serving each architecture as an OpenAI chat model named by its config.

    Serve it with any ASGI server (``uvicorn.run(app)``) or mount it in an application
    (``fastapi_app.mount("/archon", app)``; a mounted app's lifespan does not run, so its
    engines open on the first request: close them with ``await app.state.archon.aclose()``
    in the host's shutdown, or pass ``lifespan=app.state.archon.lifespan`` to the host).

    Args:
        architectures: engines, architectures, config paths or config dicts.
        api_keys: the bearer keys callers must present (none: no authentication).
        simulate: build the engines on the simulated provider (see `Engine`).
        keys: provider keys for the engines built here (see `Engine`).
        max_body_bytes: the largest request body accepted.
        max_concurrent_per_key: the most requests in flight per API key.
        trace_history: how many request traces ``GET /v1/traces/{id}`` keeps.
        shared_limits: a Redis URL: the engines built here hold their providers' rate
            limits together, with each other and with every replica on that Redis and
            ``shared_limits_prefix`` (see `RedisLimits`).

    Raises:
        ConfigError: an architecture is invalid, or two share a name.
    """

    def build(item: Any) -> Engine:
        limits = RedisLimits(shared_limits, prefix=shared_limits_prefix) if shared_limits else None
        return Engine(item, simulate=simulate, keys=keys, shared_limits=limits)

    engines = [item if isinstance(item, Engine) else build(item) for item in architectures]
    secrets = [key if isinstance(key, SecretStr) else SecretStr(key) for key in api_keys]
    service = ArchonService(
        engines,
        api_keys=secrets,
        max_body_bytes=max_body_bytes,
        max_concurrent_per_key=max_concurrent_per_key,
        trace_history=trace_history,
    )
    routes = [
        Route("/v1/chat/completions", ChatEndpoint(service), methods=["POST"]),
        Route("/v1/models", _models(service), methods=["GET"]),
        Route("/v1/models/{model:path}", _model(service), methods=["GET"]),
        Route("/v1/traces/{trace_id}", _trace(service), methods=["GET"]),
        Route("/health", _health, methods=["GET"]),
        Route("/ready", _ready(service), methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=service.lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.archon = service
    return app


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _model_card(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "archon-async"}


def _models(service: ArchonService) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            service.gate.identify(request.headers.get("authorization"))
        except ServeError as error:
            return error_response(error)
        data = [_model_card(name) for name in sorted(service.engines)]
        return _json({"object": "list", "data": data})

    return endpoint


def _model(service: ArchonService) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            service.gate.identify(request.headers.get("authorization"))
            name = request.path_params["model"]
            service.engine_for(name)
        except ServeError as error:
            return error_response(error)
        return _json(_model_card(name))

    return endpoint


def _trace(service: ArchonService) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            caller = service.gate.identify(request.headers.get("authorization"))
        except ServeError as error:
            return error_response(error)
        trace_id = request.path_params["trace_id"]
        found = service.traces.get(trace_id, caller)
        if found is None:
            missing = ServeError(
                404,
                f"no trace {trace_id!r}: traces are kept for the latest "
                f"{service.traces.size} requests, for the key that made them",
                code="trace_not_found",
            )
            return error_response(missing)
        return _json(found)

    return endpoint


async def _health(request: Request) -> Response:
    return _json({"status": "ok"})


def _ready(service: ArchonService) -> Any:
    async def endpoint(request: Request) -> Response:
        if service.draining:
            return _json({"status": "draining"}, 503)
        try:
            await service.open()
        except ArchonError as exc:
            return _json({"status": "not ready", "error": str(exc)}, 503)
        return _json({"status": "ready", "models": sorted(service.engines)})

    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no such route, wrong method) in OpenAI's shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        message = f"Unknown request URL: {request.method} {request.url.path}"
    elif status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(getattr(exc, "detail", "")) or "error"
    code = "unknown_url" if status == 404 else None
    return error_response(ServeError(status, message, code=code))
