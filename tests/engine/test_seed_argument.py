"""A seed of random choices that is not a whole number is refused before any call, by
`Engine` and by `Engine.generate`. It was taken as given and seeded the choices by its
text: ``seed="7"`` passed, and ``1.0``, ``True`` and ``1`` chose differently (the trace's
``final_choice.seed`` then held the string or the float)."""

from __future__ import annotations

from typing import Any

import pytest

from archon_async import Architecture, Engine, InvalidInputError
from tests.conftest import FakeProvider, fake_registry

BAD_SEEDS = ["7", 1.0, True, None]


def _architecture(provider: FakeProvider) -> Architecture:
    spec = {"type": "generator", "model": "m", "model_type": "Fake_API"}
    return Architecture.from_dict({"layers": [[spec]]}, registry=fake_registry(provider))


@pytest.mark.parametrize("seed", BAD_SEEDS)
def test_an_engine_refuses_a_seed_that_is_not_a_whole_number(seed: Any) -> None:
    with pytest.raises(InvalidInputError) as refused:
        Engine(_architecture(FakeProvider(lambda request: "ok")), seed=seed)
    assert str(refused.value).startswith(
        f"Engine(seed=...) takes a whole number, not {type(seed).__name__} {seed!r}: pass an int"
    )


@pytest.mark.parametrize("seed", BAD_SEEDS[:3])
async def test_generate_refuses_such_a_seed_before_any_call(seed: Any) -> None:
    provider = FakeProvider(lambda request: "ok")
    async with Engine(_architecture(provider)) as engine:
        with pytest.raises(InvalidInputError, match=r"^generate\(seed=\.\.\.\) takes a whole"):
            await engine.generate("q", seed=seed)
        assert provider.requests == []
        assert (await engine.generate("q", seed=7)).text == "ok"  # a whole number is taken
        assert (await engine.generate("q", seed=None)).text == "ok"  # None: the engine's
    assert len(provider.requests) == 2
