"""A run binds its architecture's name in the log context for its own calls only."""

from __future__ import annotations

import structlog

from archon_async import Architecture, ChatRequest, Engine
from tests.conftest import FakeProvider, fake_registry


async def test_a_run_binds_the_architecture_and_restores_the_context_after() -> None:
    seen: list[object] = []

    def reply(request: ChatRequest) -> str:
        seen.append(structlog.contextvars.get_contextvars().get("architecture"))
        return "ok"

    spec = {"type": "generator", "model": "m", "model_type": "Fake_API"}
    registry = fake_registry(FakeProvider(reply))
    engine = Engine(Architecture.from_dict({"name": "mine", "layers": [[spec]]}, registry=registry))
    tokens = structlog.contextvars.bind_contextvars(architecture="outer", job=7)
    try:
        async with engine:
            await engine.generate("q")
        assert seen == ["mine"]
        assert structlog.contextvars.get_contextvars() == {"architecture": "outer", "job": 7}
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
    assert "architecture" not in structlog.contextvars.get_contextvars()
