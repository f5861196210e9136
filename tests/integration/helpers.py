"""Shared pieces of the engine-on-simulator tests."""

from __future__ import annotations

from typing import Any

from archon_async import ArchonError, Engine
from archon_async.simulate import SimulatedServer

#: One generator of one sample on gpt-4o.
SINGLE: dict[str, Any] = {
    "name": "one-call",
    "layers": [
        [
            {
                "type": "generator",
                "model": "gpt-4o",
                "model_type": "OpenAI_API",
                "temperature": 0.7,
                "max_tokens": 64,
                "samples": 1,
            }
        ]
    ],
}


def generator(samples: int = 1, *, model: str = "m", **fields: Any) -> dict[str, Any]:
    """A one-layer architecture: one OpenAI_API generator drawing ``samples`` samples."""
    component = {
        "type": "generator",
        "model": model,
        "model_type": "OpenAI_API",
        "max_tokens": 32,
        "samples": samples,
        **fields,
    }
    return {"name": "sim-test", "layers": [[component]]}


def engine_on(
    server: SimulatedServer,
    keys: list[str],
    *,
    samples: int = 1,
    architecture: dict[str, Any] | None = None,
    **provider: Any,
) -> Engine:
    """An engine whose OpenAI_API calls go to ``server``, with ``keys`` and provider settings;
    its architecture is ``architecture``, else one generator of ``samples`` samples."""
    return Engine(
        architecture or generator(samples),
        keys={"OPENAI_API_KEY": keys},
        providers={"OpenAI_API": {"base_url": server.openai_base_url, **provider}},
    )


def only_leaf(group: BaseException) -> BaseException:
    """The single error inside a (possibly nested) exception group."""
    while isinstance(group, BaseExceptionGroup):
        assert len(group.exceptions) == 1, group.exceptions
        group = group.exceptions[0]
    assert isinstance(group, ArchonError), repr(group)
    return group
