"""Running a call path on the simulated provider: its URLs, its keys, its dispatcher.

A simulating call path sends every call to the in-process simulator (or a running one at a
URL); nothing here may ever reach a real API.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._config import ProviderSettings
from .._dispatch import Dispatcher
from .._exceptions import ConfigError
from .._types import CallRecord, ChatRequest, ChatResponse

if TYPE_CHECKING:
    from ..simulate import SimulationSettings

__all__ = [
    "SIMULATED_KEYS",
    "SimulatedDispatcher",
    "check_simulate",
    "simulated_base_urls",
    "simulator_identity",
    "start_simulator",
]

#: Key names handed to providers when running on the simulated provider, which accepts any key.
SIMULATED_KEYS = {
    name: ["sim-key"]
    for name in (
        "OPENAI_API_KEY",
        "TOGETHER_API_KEY",
        "GROQ_API_KEY",
        "ANTHROPIC_API_KEY",
        "GOOGLE_API_KEY",
        "BEDROCK_API_KEY",
    )
}
_OPENAI_WIRE = {"OpenAI_API", "Together_API", "Groq_API", "tgi", "vLLM", "OpenAI_Compatible"}


def simulated_base_urls(root: str) -> dict[str, str]:
    """The base URL of every built-in model_type on a simulated server at ``root``."""
    root = root.rstrip("/")
    urls = dict.fromkeys(_OPENAI_WIRE, f"{root}/v1")
    urls.update({"Anthropic_API": root, "Google_API": root, "Bedrock_API": root})
    return urls


def check_simulate(simulate: object) -> None:
    """Refuse a ``simulate=`` that is neither a flag, settings, nor a simulator's URL.

    Raises:
        ConfigError: e.g. ``simulate="true"``, which would otherwise be taken for a URL.
    """
    if isinstance(simulate, bool):
        return
    if isinstance(simulate, str) and simulate.startswith(("http://", "https://")):
        return
    from ..simulate import SimulationSettings  # only now: it brings the server's imports

    if isinstance(simulate, SimulationSettings):
        return
    raise ConfigError(
        "simulate must be True or False, a SimulationSettings, or the URL of a running "
        f"simulated provider (http://...); got {simulate!r}"
    )


async def start_simulator(simulate: bool | str | SimulationSettings) -> tuple[str, str, Any]:
    """Where a simulating call path sends its calls.

    Returns:
        The simulator's root URL, its identity for the cache (``simulated:...``), and the
        in-process server started for it (None when ``simulate`` is a running one's URL).
    """
    if isinstance(simulate, str):
        return simulate, simulator_identity(simulate), None
    from ..simulate import SimulatedServer, SimulationSettings

    settings = simulate if isinstance(simulate, SimulationSettings) else SimulationSettings()
    server = SimulatedServer(settings)
    await server.__aenter__()
    return str(server.base_url), simulator_identity(settings), server


def simulator_identity(simulate: bool | str | SimulationSettings) -> str:
    """The endpoint identity of a simulating call path's calls (``simulated:...``): a
    running simulator's URL, else a digest of the settings of the one it starts (its
    replies follow from them, seed included, not from its port)."""
    if isinstance(simulate, str):
        return f"simulated:{simulate}"
    from ..simulate import SimulationSettings

    settings = simulate if isinstance(simulate, SimulationSettings) else SimulationSettings()
    described = settings.model_dump_json(exclude={"port", "host"}).encode()
    return "simulated:" + hashlib.blake2b(described, digest_size=8).hexdigest()


class SimulatedDispatcher(Dispatcher):
    """The dispatcher of a simulating call path: every call goes to the simulator.

    Every built-in model_type's base URL is the simulator's, and a component's own
    ``base_url`` is dropped: a simulated run must never reach a real API, least of all with
    the simulator's key.
    """

    simulator_urls: Mapping[str, str] = {}

    def settings_for(self, model_type: str) -> ProviderSettings:
        settings = super().settings_for(model_type)
        url = self.simulator_urls.get(model_type)
        return settings if url is None else settings.model_copy(update={"base_url": url})

    async def complete(
        self, request: ChatRequest, ticket: int = 0
    ) -> tuple[ChatResponse, CallRecord]:
        if request.base_url is not None:
            request = dataclasses.replace(request, base_url=None)
        return await super().complete(request, ticket)
