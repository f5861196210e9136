"""One CallPath shared by several engines, tasks and threads: one set of limits for the sum."""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import pytest

from archon_async import ArchonError, CallPath, ConfigError, Engine
from archon_async.simulate import SimulationSettings
from tests.integration.helpers import generator

RPM = 600  # 10 requests a second for the whole call path, a one-second burst


def _engine(callpath: CallPath, model: str) -> Engine:
    return Engine(generator(1, model=model), callpath=callpath)


def test_two_engines_and_eight_threads_share_one_rate_limit() -> None:
    prompts_per_thread = 6
    threads_total = 8
    calls_total = prompts_per_thread * threads_total
    simulate = SimulationSettings(request_log=1000)
    with CallPath(simulate=simulate, providers={"OpenAI_API": {"rpm": RPM}}) as calls:
        engines = [_engine(calls, "model-a"), _engine(calls, "model-b")]
        errors: list[BaseException] = []

        def worker(index: int) -> None:
            engine = engines[index % 2]
            try:
                for turn in range(prompts_per_thread):
                    engine.generate_sync(f"question {index}-{turn}")
            except BaseException as exc:  # handed to the test thread
                errors.append(exc)

        started = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_total)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        assert not errors, errors
        assert calls.spent().calls == calls_total
        # One limiter for the whole call path: one lane, whose bucket saw every call.
        assert list(calls.statistics()) == ["OpenAI_API"]
    # 48 calls at 10/s with a 10-call burst need at least 3.8 s together; two private
    # limits (each engine its own 10/s) would have done it in about 1.4 s. A lower bound
    # only: a loaded machine makes it slower, never faster.
    assert elapsed >= (calls_total - RPM / 60) / (RPM / 60) * 0.8


async def test_engines_on_one_callpath_share_its_meter_and_stay_open() -> None:
    async with CallPath(simulate=True) as calls:
        first, second = _engine(calls, "a"), _engine(calls, "b")
        async with first:
            await first.generate("one")
        # Closing an engine leaves a shared call path open for the others.
        assert calls.is_open
        async with anyio.create_task_group() as group:
            group.start_soon(second.generate, "two")
            group.start_soon(first.generate, "three")
        assert calls.spent().calls == 3
    assert not calls.is_open


async def test_a_private_callpath_is_closed_with_its_engine() -> None:
    engine = Engine(generator(2), simulate=True)
    async with engine:
        result = await engine.generate("q")
        assert engine.callpath.is_open
    assert len(result.candidates) == 2
    assert not engine.callpath.is_open


@pytest.mark.parametrize(
    "extra",
    [
        {"keys": {"OPENAI_API_KEY": ["k"]}},
        {"simulate": True},
        {"providers": {"OpenAI_API": {"rpm": 5}}},
        {"cache": None, "keys": "keys.json"},
    ],
)
def test_an_engine_on_a_shared_callpath_refuses_settings_of_its_own(extra: Any) -> None:
    with pytest.raises(ConfigError, match="give them to the CallPath"):
        Engine(generator(1), callpath=CallPath(simulate=True), **extra)


def test_a_call_from_another_thread_needs_the_home_loop_running() -> None:
    calls = CallPath(simulate="http://127.0.0.1:9")  # opens no server: nothing to leak
    engine = Engine(generator(1), callpath=calls)

    async def open_and_leave_open() -> None:
        await calls.open()  # the home loop is this anyio.run's, which ends below

    anyio.run(open_and_leave_open)
    with pytest.raises(ArchonError, match="home loop is not running"):
        engine.generate_sync("q")


async def test_architecture_settings_fill_only_what_the_callpath_was_not_told() -> None:
    architecture = generator(1) | {"providers": {"OpenAI_API": {"rpm": 7, "key_rpm": 3}}}
    async with CallPath(simulate=True, providers={"OpenAI_API": {"rpm": 60}}) as calls:
        engine = Engine(architecture, callpath=calls)
        await engine.generate("q")
        settings = calls.dispatcher.settings_for("OpenAI_API")
        assert settings.rpm == 60  # the call path's own
        # Another model_type the call path knew nothing of takes the architecture's.
        other = Engine(
            generator(1, model_type="Together_API")
            | {"providers": {"Together_API": {"key_rpm": 3}}},
            callpath=calls,
        )
        await other.generate("q")
        assert calls.dispatcher.settings_for("Together_API").key_rpm == 3
