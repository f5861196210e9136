"""`SimulatedServer`: the simulated provider as an aiohttp application on the loopback.

The request handlers live in `_simulator`; this module serves them and owns the lifecycle.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from aiohttp import web

from .._logging import get_logger
from ._settings import SimulationSettings
from ._simulator import Simulator
from ._state import RequestRecord, SimulationStats
from ._wire import Wire

__all__ = ["SimulatedServer"]

log = get_logger(__name__)

# How long closing the server waits for requests still running (e.g. timeout faults).
_SHUTDOWN_TIMEOUT_S = 0.25


class SimulatedServer:
    """The simulated provider, served on the loopback while the context is open.

    ``async with SimulatedServer(SimulationSettings(latency_s=0.05)) as sim:`` then point
    clients at ``sim.openai_base_url``, ``sim.anthropic_base_url``, ``sim.google_base_url``
    or ``sim.bedrock_base_url``; ``sim.stats()`` reports what it received, and
    ``sim.request_log()`` the latest requests one by one (when the settings keep them).

    Args:
        settings: how it behaves; the defaults answer at once, with no faults or limits.
    """

    def __init__(self, settings: SimulationSettings | None = None) -> None:
        self.settings = settings or SimulationSettings()
        self._simulator = Simulator(self.settings)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "not started"
        return f"SimulatedServer({where})"

    def application(self) -> web.Application:
        """The aiohttp application (for serving it some other way)."""
        sim = self._simulator
        app = web.Application(client_max_size=64 * 1024 * 1024)

        def wired(wire: Wire) -> Any:
            async def handler(request: web.Request) -> web.StreamResponse:
                return await sim.serve(request, wire)

            return handler

        app.router.add_post("/v1/chat/completions", wired(Wire.OPENAI))
        app.router.add_post("/chat/completions", wired(Wire.OPENAI))
        # Groq's OpenAI-compatible path under its API root (the groq SDK's base URL).
        app.router.add_post("/openai/v1/chat/completions", wired(Wire.OPENAI))
        app.router.add_post("/v1/messages", wired(Wire.ANTHROPIC))
        app.router.add_post("/v1beta/models/{model}:generateContent", wired(Wire.GOOGLE))
        app.router.add_post("/v1beta/models/{model}:streamGenerateContent", wired(Wire.GOOGLE))
        app.router.add_post("/model/{model}/converse", wired(Wire.BEDROCK))
        app.router.add_get("/v1/models", sim.models)
        app.router.add_post("/score", sim.score)
        app.router.add_get("/stats", sim.stats)
        app.router.add_post("/stats/reset", sim.reset_stats)
        app.router.add_get("/requests", sim.requests)
        return app

    async def __aenter__(self) -> SimulatedServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start listening (``async with`` does this)."""
        if self._runner is not None:
            return
        # handler_cancellation: a client that gives up (a timeout fault) ends its handler.
        runner = web.AppRunner(
            self.application(),
            handler_cancellation=True,
            access_log=None,
            shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, self.settings.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        log.info("simulated provider listening", url=self.base_url)

    async def aclose(self) -> None:
        """Stop listening and end the requests still running."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def port(self) -> int:
        """The port it listens on (chosen by the system when the settings say 0)."""
        if self._port is None:
            raise RuntimeError("the simulated server is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port``: the root of every endpoint."""
        host = self.settings.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """Base URL for OpenAI-compatible clients (``.../v1``)."""
        return f"{self.base_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """Base URL for Anthropic clients (they add ``/v1/messages``)."""
        return self.base_url

    @property
    def google_base_url(self) -> str:
        """Base URL for Gemini REST clients (they add ``/v1beta/models/...``)."""
        return self.base_url

    @property
    def bedrock_base_url(self) -> str:
        """Base URL for Bedrock runtime clients (they add ``/model/{id}/converse``)."""
        return self.base_url

    def stats(self) -> SimulationStats:
        """What it has received so far."""
        return self._simulator.counters.snapshot()

    def reset_stats(self) -> None:
        """Zero the counters and clear the request log (sample numbers are kept, so the
        replies stay deterministic)."""
        self._simulator.reset()

    def request_log(self) -> list[RequestRecord]:
        """The latest requests, oldest first (empty unless the settings' request_log > 0)."""
        return list(self._simulator.log or ())
