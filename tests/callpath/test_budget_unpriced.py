"""A dollar cap on a model with no price is refused before any call (it would never bind)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_async import Budget, CallPath, ConfigError, Engine
from tests.callpath.test_budget import architecture, items
from tests.conftest import FakeProvider, fake_registry


def test_an_engine_budget_capping_dollars_on_an_unpriced_model_is_refused() -> None:
    provider = FakeProvider(lambda request: "ok")
    with pytest.raises(ConfigError, match=r"Engine\(budget=\.\.\.\): .* m has no price") as refused:
        Engine(architecture(provider), budget=Budget(max_cost_usd=1.0))
    message = str(refused.value)
    assert "max_cost_usd=1" in message and "max_calls or max_tokens" in message
    assert provider.requests == []


def test_a_callpath_budget_capping_dollars_on_an_unpriced_model_is_refused() -> None:
    provider = FakeProvider(lambda request: "ok")
    path = CallPath(registry=fake_registry(provider), budget=Budget(max_cost_usd=1.0))
    with pytest.raises(ConfigError, match="the CallPath's budget"):
        Engine(architecture(provider), callpath=path)


def test_a_batch_budget_capping_dollars_on_an_unpriced_model_is_refused(tmp_path: Path) -> None:
    provider = FakeProvider(lambda request: "ok")
    engine = Engine(architecture(provider))
    with pytest.raises(ConfigError, match=r"Engine\.batch\(budget=\.\.\.\)"):
        engine.batch(items(3), output=tmp_path / "a.jsonl", budget=Budget(max_cost_usd=1.0))
    assert provider.requests == [] and not (tmp_path / "a.jsonl").exists()


def test_a_priced_or_uncapped_budget_is_accepted() -> None:
    provider = FakeProvider(lambda request: "ok")
    Engine(architecture(provider), budget=Budget(max_cost_usd=1.0, prices={"m": (1.0, 2.0)}))
    Engine(architecture(provider), budget=Budget(max_calls=3))


def test_the_unpriced_models_are_found_once_for_the_cli_and_the_budget_alike() -> None:
    """One function answers both refusals (the CLI's --max-cost and `Budget`): each model
    with no price once, sorted; a model named only by a reward-model ranker (no chat call,
    no tokens billed) is not one; a model priced in the given prices is not one."""
    from archon_async import Architecture
    from archon_async.callpath._budget import unpriced_models

    def spec(kind: str, model: str, **more: object) -> dict[str, object]:
        return {"type": kind, "model": model, "model_type": "OpenAI_API", **more}

    layers = [
        [spec("generator", "zz-local", samples=2), spec("generator", "gpt-4o")],
        [spec("ranker", "llm-blender/PairRM", top_k=1)],
        [spec("fuser", "aa-local"), spec("fuser", "zz-local")],
    ]
    built = Architecture.from_dict({"name": "mixed", "layers": layers})
    assert unpriced_models(built) == ["aa-local", "zz-local"]
    # The prices given (a budget's) replace the list prices: gpt-4o then has none.
    assert unpriced_models(built, {"aa-local": (1.0, 1.0), "zz-local": (0.0, 0.0)}) == ["gpt-4o"]
    said = r"Engine\(budget=\.\.\.\): .* aa-local, zz-local have no price"
    with pytest.raises(ConfigError, match=said):
        Engine(built, simulate=True, budget=Budget(max_cost_usd=1.0))
