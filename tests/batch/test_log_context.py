"""A run's log context (its architecture's name) inside and outside a batch.

A batch's worker binds it once for all its prompts, and each run finds it bound; a run of
its own binds it itself. Either way every event of a run carries it, and nothing of it is
left in the caller's context afterwards.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

from archon_async import Architecture, Engine
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from archon_async._logging import _CONTEXT, bind_log_context, reset_log_context
from archon_async.core import ComponentContext, State
from tests.conftest import FakeProvider, fake_registry


def log_context() -> dict[str, Any]:
    """The fields an event logged now would carry from the context (structlog's context
    variables once structlog is loaded, the library's own otherwise)."""
    structlog = sys.modules.get("structlog")
    if structlog is not None:
        return dict(structlog.contextvars.get_contextvars())
    return dict(_CONTEXT.get())


def engine_recording(seen: list[Any]) -> Engine:
    async def record(ctx: ComponentContext, state: State) -> dict[str, Any]:
        seen.append(log_context().get("architecture"))
        reply = await ctx.complete(ctx.conversation)
        return {"candidates": [reply.text]}

    registry = fake_registry(FakeProvider(lambda request: "ok")).add_component("record", record)
    architecture = Architecture.from_dict(
        {
            "name": "logged",
            "layers": [[{"type": "record", "model": "m", "model_type": "Fake_API"}]],
        },
        registry=registry,
    )
    return Engine(architecture)


async def test_every_run_of_a_batch_carries_its_architecture_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    seen: list[Any] = []
    items = [
        BatchItem(id=str(i), messages=({"role": "user", "content": f"q{i}"},)) for i in range(7)
    ]
    async with engine_recording(seen) as engine:
        stats = await run_batch(
            engine, items, tmp_path / "out.jsonl", total=7, concurrency=3, progress=io.StringIO()
        )
        assert "architecture" not in log_context()
        await engine.generate("alone")  # a run of its own binds it itself
    assert stats.answered == 7
    assert seen == ["logged"] * 8
    assert "architecture" not in log_context()


async def test_a_context_bound_already_is_not_bound_again_and_an_outer_one_is_restored() -> None:
    outer = bind_log_context(architecture="a")
    try:
        assert bind_log_context(architecture="a") is None  # bound already: nothing to undo
        inner = bind_log_context(architecture="b")
        assert log_context()["architecture"] == "b"
        reset_log_context(inner)
        assert log_context()["architecture"] == "a"
    finally:
        reset_log_context(outer)
    assert "architecture" not in log_context()
