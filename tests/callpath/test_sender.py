"""The call path's admission of one request: a hard budget's reservation and the
model_type's slot are held while the call is sent, and given back however it ends."""

from __future__ import annotations

from functools import partial

import anyio
import pytest

from archon_async import Budget, BudgetExceededError, CallPath, ChatRequest, ProviderError
from tests.conftest import FakeProvider, fake_registry


def _request(text: str) -> ChatRequest:
    return ChatRequest(
        model="m", model_type="Fake_API", messages=({"role": "user", "content": text},)
    )


async def test_a_call_cancelled_at_the_gate_gives_back_its_reservation_and_place() -> None:
    sent, release = anyio.Event(), anyio.Event()

    async def reply(request: ChatRequest) -> str:
        sent.set()
        await release.wait()
        return "ok"

    provider = FakeProvider(reply)
    budget = Budget(max_calls=2, per_call=True)
    settings = {"Fake_API": {"max_concurrency": 1}}
    registry = fake_registry(provider)
    async with CallPath(registry=registry, providers=settings, budget=budget) as calls:
        async with anyio.create_task_group() as group:
            group.start_soon(calls.complete, _request("first"))  # takes the one slot
            await sent.wait()
            with anyio.move_on_after(0.05):  # waits at the full gate, then is cancelled
                await calls.complete(_request("cancelled"))
            # Had the cancelled call kept its reservation, this third one would be refused
            # (1 in flight + 1 held + 1 = 3 > 2); had it kept its place, it would never run.
            group.start_soon(calls.complete, _request("third"))
            release.set()
        assert calls.spent().calls == 2
        with pytest.raises(BudgetExceededError):  # both sent and charged: the cap is reached
            await calls.complete(_request("fourth"))
    assert [r.messages[-1]["content"] for r in provider.requests] == ["first", "third"]
    assert provider.max_in_flight == 1


async def test_a_closed_callpath_opens_again_on_the_next_call() -> None:
    provider = FakeProvider(lambda request: "ok")
    calls = CallPath(registry=fake_registry(provider))
    async with calls:
        await calls.complete(_request("one"))
    response, _ = await calls.complete(_request("two"))  # reopened on this loop
    await calls.aclose()
    assert response.text == "ok" and len(provider.requests) == 2


async def test_a_failed_call_is_charged_and_gives_back_its_reservation() -> None:
    def reply(request: ChatRequest) -> str:
        raise ProviderError("down", provider="Fake_API", model=request.model)

    budget = Budget(max_calls=5, per_call=True)
    provider = FakeProvider(reply)
    settings = {"Fake_API": {"max_concurrency": 1, "max_retries": 0}}
    registry = fake_registry(provider)
    async with CallPath(registry=registry, providers=settings, budget=budget) as calls:
        for _ in range(3):
            with pytest.raises(ProviderError):
                await calls.complete(_request("q"))
    # Each failure is one call charged, and nothing stays held: three more would fit two.
    assert budget.spent().calls == 3
    budget.reserve(2)
    with pytest.raises(BudgetExceededError):
        budget.reserve(1)


async def test_a_full_gate_admits_the_oldest_run_first() -> None:
    release = anyio.Event()

    async def reply(request: ChatRequest) -> str:
        await release.wait()
        return "ok"

    provider = FakeProvider(reply)
    settings = {"Fake_API": {"max_concurrency": 1}}
    async with CallPath(registry=fake_registry(provider), providers=settings) as calls:
        async with anyio.create_task_group() as group:
            for text, ticket in [("first", 1), ("nine", 9), ("three", 3), ("five", 5), ("3b", 3)]:
                group.start_soon(partial(calls.complete, _request(text), ticket=ticket))
                for _ in range(20):  # each waits at the gate in this order
                    await anyio.lowlevel.checkpoint()
            limits = calls.statistics()["Fake_API"].limits
            assert (limits.in_flight, limits.waiting) == (1, 4)
            release.set()
    # Lowest ticket first, first come first among equal tickets; one at a time.
    sent = [r.messages[-1]["content"] for r in provider.requests]
    assert sent == ["first", "three", "3b", "five", "nine"]
    assert provider.max_in_flight == 1


async def test_a_hard_budget_refuses_before_waiting_for_the_rate_limit() -> None:
    provider = FakeProvider(lambda request: "ok")
    budget = Budget(max_calls=1, per_call=True)
    settings = {"Fake_API": {"rpm": 1}}  # the second request would wait about a minute
    registry = fake_registry(provider)
    async with CallPath(registry=registry, providers=settings, budget=budget) as calls:
        await calls.complete(_request("one"))
        with anyio.fail_after(30), pytest.raises(BudgetExceededError):
            await calls.complete(_request("two"))
    assert len(provider.requests) == 1


async def test_calls_waiting_for_the_rate_limit_go_oldest_run_first() -> None:
    """Under an rpm limit a batch's first answer came only after every prompt in flight had
    sent its first requests (a FIFO bucket served a new prompt's call before an old
    prompt's next one): the calls waiting for a turn go lowest ticket first too."""
    provider = FakeProvider(lambda request: "ok")
    # A turn every 1.05 s (95% of 60 a minute) and a burst of one: after the first call
    # the bucket stays empty for a second, so each call below waits (the order they started
    # waiting in is not the order they go in).
    settings = {"Fake_API": {"rpm": 60}}
    async with CallPath(registry=fake_registry(provider), providers=settings) as calls:
        async with anyio.create_task_group() as group:
            group.start_soon(partial(calls.complete, _request("burst"), ticket=9))
            # "waiting" holds the turn (it waits in the bucket); the others queue for it.
            for text, ticket in [("waiting", 9), ("nine", 9), ("three", 3), ("3b", 3)]:
                for _ in range(20):  # each starts waiting for a turn in this order
                    await anyio.lowlevel.checkpoint()
                group.start_soon(partial(calls.complete, _request(text), ticket=ticket))
    sent = [r.messages[-1]["content"] for r in provider.requests]
    assert sent == ["burst", "waiting", "three", "3b", "nine"]
