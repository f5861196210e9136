"""Running the app on uvicorn, with readiness turning to 503 as soon as a stop is asked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette

__all__ = ["serve_app"]


class _DrainingServer(uvicorn.Server):
    """uvicorn's server, marking the service as draining when a stop is asked.

    uvicorn itself stops accepting, waits ``timeout_graceful_shutdown`` for requests in
    flight, then cancels them; the lifespan closes the engines after that.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        service: Any,
        on_started: Callable[[int], None] = lambda port: None,
    ) -> None:
        super().__init__(config)
        self._service = service
        self._on_started = on_started

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:  # the port bound, the one asked for unless it was 0 (any)
            self._on_started(self.servers[0].sockets[0].getsockname()[1])

    def handle_exit(self, sig: int, frame: Any) -> None:
        self._service.draining = True
        super().handle_exit(sig, frame)


def serve_app(
    app: Starlette,
    *,
    host: str,
    port: int,
    grace_s: int,
    verbose: int = 0,
    on_started: Callable[[int], None] = lambda port: None,
) -> bool:
    """Serve ``app`` until SIGINT/SIGTERM; whether it started (False: e.g. a busy port).
    ``on_started`` is given the port bound once the server listens."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        timeout_graceful_shutdown=grace_s,
        log_level="info" if verbose else "warning",
        access_log=bool(verbose),
        lifespan="on",
    )
    server = _DrainingServer(config, app.state.archon, on_started)
    server.run()
    return bool(server.started)
