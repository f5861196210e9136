"""``Engine.generate(..., draw=d)``: an independent answer to the same prompt, through the
response cache: draw ``d`` asks samples of its own, every architecture on that draw shares
them, and draw 0 keeps the keys and sample numbers a cache written before draws holds."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from archon_async import CallPath, ChatRequest, Engine, InvalidInputError
from archon_async.callpath._samples import DRAW_STRIDE, MAX_DRAWS
from archon_async.simulate import SimulationSettings
from tests.conftest import FakeProvider, fake_registry

QUESTION = "What is 17 * 23?"
GENERATOR = {"type": "generator", "model": "sim-a", "model_type": "OpenAI_API", "samples": 3}
#: The architecture `data/cache_before_draws.sqlite` was written with (main, 5dcd8dc).
CONFIG = {
    "name": "draws",
    "layers": [
        [GENERATOR],
        [{"type": "fuser", "model": "sim-b", "model_type": "OpenAI_API", "samples": 1}],
    ],
}
#: Shares CONFIG's generator layer, then fuses with another model.
OTHER = {
    "name": "draws-other",
    "layers": [
        [GENERATOR],
        [{"type": "fuser", "model": "sim-c", "model_type": "OpenAI_API", "samples": 1}],
    ],
}


def _samples(path: Path) -> list[int]:
    """Every sample number the cache file keeps, sorted."""
    with sqlite3.connect(path) as db:
        return sorted(row[0] for row in db.execute("SELECT sample FROM responses"))


async def test_a_draw_sends_samples_of_its_own_shared_by_every_architecture_on_it(
    tmp_path: Path,
) -> None:
    settings = SimulationSettings(seed=4, request_log=1_000)
    cache = tmp_path / "cache.sqlite"
    async with CallPath(simulate=settings, cache=cache) as calls:
        engine, other = Engine(CONFIG, callpath=calls), Engine(OTHER, callpath=calls)
        server = calls.simulator
        assert server is not None
        first = await engine.generate(QUESTION)
        sent = len(server.request_log())
        second = await engine.generate(QUESTION, draw=1)
        # Draw 1 is not answered from draw 0's entries: its 3 samples and its fuser are sent.
        assert second.trace.totals()["calls"] == 4 and second.trace.cache_hits == 0
        assert len(server.request_log()) > sent
        assert set(second.candidates).isdisjoint(first.candidates)
        assert second.text != first.text
        # Another architecture on draw 1 shares its generator layer: only its fuser is sent.
        shared = await other.generate(QUESTION, draw=1)
        assert shared.trace.cache_hits == 3 and shared.trace.totals()["calls"] == 1
        # Asked again, draw 1 is all cache hits and the same answer.
        again = await engine.generate(QUESTION, draw=1)
        assert again.trace.totals()["calls"] == 0 and again.text == second.text
        # Draw 2 is new again.
        third = await engine.generate(QUESTION, draw=2)
        assert third.trace.totals()["calls"] == 4 and third.text not in (first.text, second.text)
    # The sample numbers told to the simulator and kept: 0, 1, 2 (and the fusers' 0) for
    # draw 0, the same offset by DRAW_STRIDE for draw 1 and by twice it for draw 2.
    fusers = [0, DRAW_STRIDE, DRAW_STRIDE, 2 * DRAW_STRIDE]  # the other fuser: draw 1 only
    generators = [d * DRAW_STRIDE + j for d in range(3) for j in range(3)]
    assert _samples(cache) == sorted(generators + fusers)


async def test_draw_zero_is_answered_by_a_cache_written_before_draws(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    shutil.copy(Path(__file__).parent / "data" / "cache_before_draws.sqlite", cache)
    async with Engine(CONFIG, simulate=True, cache=cache) as engine:
        before = await engine.generate(QUESTION)
        assert before.trace.totals()["calls"] == 0 and before.trace.cache_hits == 4
        fresh = await engine.generate(QUESTION, draw=1)
        assert fresh.trace.totals()["calls"] == 4


@pytest.mark.parametrize("draw", [-1, 1.5, "1", True, False, None, 0.0, MAX_DRAWS, 2**40])
async def test_a_draw_that_is_not_a_whole_number_is_refused_before_any_call(
    draw: Any, tmp_path: Path
) -> None:
    # A cache, so that a draw past MAX_DRAWS would reach SQLite's 64-bit sample numbers.
    async with Engine(CONFIG, simulate=True, cache=tmp_path / "cache.sqlite") as engine:
        with pytest.raises(InvalidInputError, match="draw must be a whole number from 0 to"):
            await engine.generate(QUESTION, draw=draw)
        # The largest draw is served: its last sample numbers still fit the cache file.
        last = await engine.generate(QUESTION, draw=MAX_DRAWS - 1)
        assert last.trace.totals()["calls"] == 4
    assert max(_samples(tmp_path / "cache.sqlite")) >= (MAX_DRAWS - 1) * DRAW_STRIDE


@pytest.mark.parametrize("draw", [-1, 1.5, "1", True, False, None, 0.0, MAX_DRAWS, 2**40])
async def test_the_call_path_refuses_a_bad_draw_itself_before_any_call(
    draw: Any, tmp_path: Path
) -> None:
    """`CallPath.complete` and `complete_samples` are public: they used to trust ``draw``
    (only `Engine.generate` checked it), so -1 asked sample -2**32 of the cache and a draw
    past 2**31 numbered samples SQLite cannot store."""
    provider = FakeProvider(reply=lambda request: "an answer")
    request = ChatRequest(
        model="m", model_type="Fake_API", messages=[{"role": "user", "content": QUESTION}]
    )
    said = "draw must be a whole number from 0 to 2147483647, not .*: pass an int"
    async with CallPath(registry=fake_registry(provider), cache=tmp_path / "c.sqlite") as calls:
        refused = calls.complete(request, draw=draw)  # refused when awaited, as a coroutine
        with pytest.raises(InvalidInputError, match=said):
            await refused
        with pytest.raises(InvalidInputError, match=said):
            await calls.complete_samples(request, 3, draw=draw)
        assert provider.requests == [] and calls.spent().calls == 0
        # The largest draw is served, at its own sample numbers.
        await calls.complete(request, draw=MAX_DRAWS - 1)
        await calls.complete_samples(request, 2, draw=MAX_DRAWS - 1)
    assert len(provider.requests) == 2
    assert _samples(tmp_path / "c.sqlite") == [(MAX_DRAWS - 1) * DRAW_STRIDE + j for j in (0, 1)]
