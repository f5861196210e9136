"""Server errors, timeouts and cancellation, driven end to end on the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from archon_async import ProviderServerError, ProviderTimeoutError
from archon_async._retry import RetryPolicy
from archon_async.simulate import SimulatedServer, SimulationSettings
from tests.integration.helpers import engine_on, only_leaf


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Backoff of about a millisecond, so retried failures take no real time."""
    build = RetryPolicy.from_settings

    def quick(settings: object) -> RetryPolicy:
        policy = build(settings)  # type: ignore[arg-type]
        return RetryPolicy(max_retries=policy.max_retries, initial_delay_s=0.001, max_delay_s=0.002)

    monkeypatch.setattr(RetryPolicy, "from_settings", staticmethod(quick))
    yield


@pytest.mark.usefixtures("fast_backoff")
async def test_server_errors_are_retried_then_reported() -> None:
    settings = SimulationSettings(fault_rate=1.0, faults=["5xx"], request_log=10)
    async with SimulatedServer(settings) as server:
        async with engine_on(server, ["sk-a"], max_retries=2) as engine:
            with pytest.raises(ExceptionGroup) as caught:
                await engine.generate("q")
        stats, log = server.stats(), server.request_log()
    error = only_leaf(caught.value)
    assert isinstance(error, ProviderServerError)
    assert error.status_code in (500, 503)
    assert "OpenAI_API" in str(error)
    assert stats.faults == {"5xx": 3}  # the first attempt and two retries
    assert len(log) == 3 and all(entry.status in (500, 503) for entry in log)
    assert log[-1].status == error.status_code  # the last attempt's error is the one raised


@pytest.mark.usefixtures("fast_backoff")
async def test_timeouts_are_retried_then_reported() -> None:
    # The server holds each request far longer than the engine's 0.2 s timeout.
    settings = SimulationSettings(
        fault_rate=1.0, faults=["timeout"], timeout_fault_s=30, request_log=10
    )
    async with SimulatedServer(settings) as server:
        async with engine_on(server, ["sk-a"], max_retries=1, timeout_s=0.2) as engine:
            async with asyncio.timeout(10):
                with pytest.raises(ExceptionGroup) as caught:
                    await engine.generate("q")
        stats = server.stats()
        # Each abandoned request ended on the server too (its connection was closed).
        for _ in range(200):
            if server.stats().in_flight == 0:
                break
            await asyncio.sleep(0.01)
        in_flight = server.stats().in_flight
    error = only_leaf(caught.value)
    assert isinstance(error, ProviderTimeoutError)
    assert "0.2 s" in str(error)
    assert stats.faults == {"timeout": 2}
    assert in_flight == 0


async def test_cancelling_a_run_mid_call_leaves_no_task_and_no_slot() -> None:
    # Latency long enough that the calls are surely still in flight when cancelled.
    async with SimulatedServer(SimulationSettings(latency_s=30)) as server:
        async with engine_on(server, ["sk-a"], samples=3) as engine:
            before = asyncio.all_tasks()
            run = asyncio.create_task(engine.generate("q"))
            # Polling the server's own counter: there is no event to wait on from outside.
            async with asyncio.timeout(10):
                while server.stats().in_flight < 1:  # the 3 samples: one request (n=3)  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
            run.cancel()
            with pytest.raises(asyncio.CancelledError):
                await run
            limits = engine.dispatcher.statistics()["OpenAI_API"].limits
            assert (limits.in_flight, limits.waiting) == (0, 0)
            # The server sees every request abandoned: the connections were closed.
            async with asyncio.timeout(5):
                while server.stats().in_flight:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
            # Handler tasks end a few loop turns after their connection closes; a leaked
            # task would never end, so a short bounded wait tells the two apart.
            for _ in range(100):
                if not asyncio.all_tasks() - before:
                    break
                await asyncio.sleep(0.01)
            assert asyncio.all_tasks() - before == set()
        assert server.stats().replies == 0
