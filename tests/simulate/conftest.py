"""Fixtures for the simulated provider's tests: servers on the loopback, closed afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sim_helpers import Serve

from archon_async.simulate import SimulatedServer, SimulationSettings


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """``await serve(**settings)`` starts a simulated server on a free port."""
    servers: list[SimulatedServer] = []

    async def start(**fields: Any) -> SimulatedServer:
        server = SimulatedServer(SimulationSettings(**fields))
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.aclose()
