"""Public-API errors an application meets: a wrong ``simulate=``, a failed layer's text."""

from __future__ import annotations

import pytest

from archon_async import BadRequestError, ConfigError, Engine, LayerFailedGroup
from archon_async.simulate import SimulationSettings
from tests.conftest import FakeProvider, fake_registry

ONE_CALL = {"layers": [[{"type": "generator", "model": "m", "model_type": "Fake_API"}]]}


@pytest.mark.parametrize("value", ["true", "yes", "127.0.0.1:8765", 1])
def test_simulate_that_is_not_a_flag_settings_or_url_is_refused(value: object) -> None:
    with pytest.raises(ConfigError, match="simulate must be True or False"):
        Engine("single_model", simulate=value)  # type: ignore[arg-type]


def test_simulate_accepts_a_flag_settings_and_a_url() -> None:
    for value in (True, False, SimulationSettings(), "http://127.0.0.1:8765"):
        Engine("single_model", simulate=value)


async def test_a_failed_layer_says_why_in_its_text() -> None:
    def refuse(request: object) -> str:
        raise BadRequestError("no such thing", provider="Fake_API", model="m", status_code=400)

    architecture = {
        "layers": [[
            {"type": "generator", "model": "m", "model_type": "Fake_API"},
            {"type": "generator", "model": "m", "model_type": "Fake_API"},
        ]]
    }  # fmt: skip
    engine = Engine(architecture, registry=fake_registry(FakeProvider(refuse)))
    with pytest.raises(LayerFailedGroup) as info:
        async with engine:
            await engine.generate("Hi?")
    text = str(info.value)
    assert text.startswith("layer 0: every component failed: ")
    assert "no such thing" in text and "(and 1 more)" in text
