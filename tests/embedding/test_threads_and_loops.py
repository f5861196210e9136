"""The engine inside applications: one engine shared by threads (generate_sync), an engine
opened by generate() used again in a later asyncio.run(), nothing leaked at exit. Each case
is a script run in a fresh interpreter, as an application would run it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import ROOT


def _script(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-W", "always::ResourceWarning", "-c",
         textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )  # fmt: skip


def _clean(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stderr
    for leak in ("Unclosed", "ResourceWarning", "Event loop is closed", "Exception ignored"):
        assert leak not in done.stderr, done.stderr


def test_eight_threads_share_one_engine_through_generate_sync() -> None:
    done = _script(
        """
        import threading
        from archon_async import Engine
        from archon_async.simulate import SimulationSettings

        engine = Engine("default", simulate=SimulationSettings(latency_s=0.05))
        answers, errors = {}, []

        def ask(number):
            try:
                result = engine.generate_sync(f"Question number {number}?")
                answers[number] = (result.text, result.trace.call_count)
            except BaseException as exc:
                errors.append(repr(exc))

        threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == [], errors
        assert sorted(answers) == list(range(8))
        assert all(text and calls == 12 for text, calls in answers.values())
        homes = [t for t in threading.enumerate() if t.name.startswith("archon-engine-")]
        assert len(homes) == 1  # one loop thread serves every caller
        print("ok")
        """
    )  # the engine is never closed by the script: it is closed at exit
    _clean(done)
    assert done.stdout.strip() == "ok"


def test_with_engine_closes_its_loop_thread() -> None:
    done = _script(
        """
        import threading
        from archon_async import Engine
        with Engine("single_model", simulate=True) as engine:
            assert engine.generate_sync("Hi?").text
            assert engine.generate_sync("Hello?").text  # the same open engine
        assert not engine.is_open
        assert not [t for t in threading.enumerate() if t.name.startswith("archon-engine-")]
        print("ok")
        """
    )
    _clean(done)


def test_an_engine_opened_by_generate_works_in_a_second_asyncio_run() -> None:
    done = _script(
        """
        import asyncio
        from archon_async import Engine

        engine = Engine("single_model", simulate=True)

        async def ask(question):
            result = await engine.generate(question)
            return result.text

        first = asyncio.run(ask("What is 17 * 23?"))
        assert not engine.is_open  # closed with the loop that opened it
        second = asyncio.run(ask("What is 2 + 2?"))
        assert first and second
        # and the synchronous API after both
        assert engine.generate_sync("And 3 * 3?").text
        print("ok")
        """
    )
    _clean(done)
    assert done.stdout.strip() == "ok"


def test_generate_sync_inside_a_running_loop_like_a_notebook() -> None:
    done = _script(
        """
        import asyncio
        from archon_async import Engine

        async def cell():
            with Engine("single_model", simulate=True) as engine:
                return engine.generate_sync("Hi?").text

        assert asyncio.run(cell())
        print("ok")
        """
    )
    _clean(done)
