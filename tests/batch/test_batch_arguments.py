"""Bad batch and budget arguments from Python are refused with a clear error before any
call: a string ``concurrency`` hung ``engine.batch`` forever (the answer queue was sized by
it), a float raised a bare TypeError, and a number given as a budget failed later with an
AttributeError."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from archon_async import Budget, CallPath, Engine, InvalidInputError
from tests.conftest import FakeProvider, fake_registry

CONFIG = {
    "name": "one-call",
    "layers": [[{"type": "generator", "model": "m", "model_type": "Fake_API"}]],
}
ITEMS = [{"id": 1, "prompt": "Hi?"}]


@pytest.mark.parametrize("concurrency", ["8", 2.5, True, 0, -3, None])
async def test_a_batch_refuses_a_concurrency_that_is_not_a_whole_number(
    tmp_path: Path, concurrency: object
) -> None:
    provider = FakeProvider(lambda request: "ok")
    engine = Engine(CONFIG, registry=fake_registry(provider))
    with pytest.raises(InvalidInputError, match=r"concurrency must be a whole number .*not"):
        lines = engine.batch(ITEMS, output=tmp_path / "o.jsonl", concurrency=concurrency)  # type: ignore[arg-type]
        # Bounded: before the fix a string hung here for ever.
        await asyncio.wait_for(anext(lines), timeout=30)
    assert provider.requests == []
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("budget", [3, "x", {"max_calls": 3}])
async def test_a_budget_that_is_not_a_budget_is_refused_where_it_is_given(
    tmp_path: Path, budget: object
) -> None:
    provider = FakeProvider(lambda request: "ok")
    with pytest.raises(InvalidInputError, match=r"Engine\(budget=\.\.\.\) takes a Budget"):
        Engine(CONFIG, registry=fake_registry(provider), budget=budget)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"CallPath\(budget=\.\.\.\) takes a Budget"):
        CallPath(budget=budget)  # type: ignore[arg-type]
    engine = Engine(CONFIG, registry=fake_registry(provider))
    with pytest.raises(InvalidInputError, match="the batch's budget= takes a Budget"):
        lines = engine.batch(ITEMS, output=tmp_path / "o.jsonl", budget=budget)  # type: ignore[arg-type]
        await asyncio.wait_for(anext(lines), timeout=30)
    assert provider.requests == []


@pytest.mark.parametrize(
    "caps",
    [
        {"max_calls": True},
        {"max_calls": 1.5},
        {"max_calls": "10"},
        {"max_tokens": 2.5},
        {"max_cost_usd": "1"},
        {"max_cost_usd": False},
    ],
)
def test_a_budget_refuses_caps_of_the_wrong_kind(caps: dict[str, object]) -> None:
    (name,) = caps
    with pytest.raises(InvalidInputError, match=f"Budget: {name} must be"):
        Budget(**caps)  # type: ignore[arg-type]


def test_a_budget_takes_whole_calls_and_tokens_and_a_number_of_dollars() -> None:
    budget = Budget(max_calls=10, max_tokens=0, max_cost_usd=1)
    assert (budget.max_calls, budget.max_tokens, budget.max_cost_usd) == (10, 0, 1)


async def test_the_batch_iterator_checks_its_arguments_itself(tmp_path: Path) -> None:
    from archon_async._batch_api import run_batch_iter

    provider = FakeProvider(lambda request: "ok")
    engine = Engine(CONFIG, registry=fake_registry(provider))
    lines = run_batch_iter(engine, ITEMS, output=tmp_path / "o.jsonl", concurrency="8")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="concurrency must be a whole number"):
        await asyncio.wait_for(anext(lines), timeout=30)
    assert provider.requests == []


@pytest.mark.parametrize(
    ("items", "got"),
    [
        ({"id": "q1", "prompt": "Hi?"}, "got a dict: one prompt goes in a list"),
        ({"q1": "Hi?", "q2": "Yes?"}, "got a dict"),
        (42, "got int 42"),
        (None, "got NoneType None"),
        (b"q1", "got bytes b'q1'"),
    ],
)
async def test_items_that_are_not_prompts_are_refused_naming_the_argument(
    tmp_path: Path, items: object, got: str
) -> None:
    # A dict was iterated over its keys: "item 1: each line must be a JSON object".
    provider = FakeProvider(lambda request: "ok")
    engine = Engine(CONFIG, registry=fake_registry(provider))
    with pytest.raises(InvalidInputError) as refused:
        engine.batch(items, output=tmp_path / "o.jsonl")  # type: ignore[arg-type]
    message = str(refused.value)
    assert message.startswith("the batch's items (the prompts) must be a JSONL file's path")
    assert got in message, message
    assert provider.requests == []
    assert not (tmp_path / "o.jsonl").exists()
