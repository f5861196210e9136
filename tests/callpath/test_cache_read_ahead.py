"""The cache's read-ahead (a small file's namespace read in one query when a call path
opens, or started early on a thread of its own, as the command line does), the hits of a
fully cached request (one record per model, counted together), and request keys that do not
change between versions."""

from __future__ import annotations

import argparse
import sqlite3
import threading
from pathlib import Path

import pytest

from archon_async import CallPath, ChatRequest, ChatResponse, ConfigError, Engine, ResponseCache
from archon_async._cli_callpath import cache_from_args
from archon_async._types import Usage
from archon_async.callpath._cache import request_key
from tests.callpath.test_cache import architecture, numbered
from tests.conftest import FakeProvider

KEY = request_key("Wire", "https://a/v1", ChatRequest(model="m", model_type="X", messages=[]))
OTHER = request_key("Wire", "https://b/v1", ChatRequest(model="m", model_type="X", messages=[]))


def _filled(path: Path, namespace: str = "default") -> None:
    cache = ResponseCache(path, namespace=namespace)
    for sample in range(3):
        cache.put(KEY, sample, ChatResponse(text=f"s{sample}", usage=Usage(7, 3), model="m"))
    cache.close()


def _forget_on_disk(path: Path) -> None:
    """Delete every row behind the cache's back: only what it read ahead can answer now."""
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM responses")


def test_read_ahead_serves_the_namespace_from_memory(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    _filled(path)
    _filled(path, namespace="other")
    cache = ResponseCache(path)
    assert cache.read_ahead() == 3  # its own namespace only
    _forget_on_disk(path)
    found = cache.get_many(KEY, 0, 4)
    assert [r.text if r else None for r in found] == ["s0", "s1", "s2", None]
    assert found[0] is not None and found[0].usage == Usage(7, 3)
    assert cache.statistics() == {"hits": 3, "misses": 1}
    cache.close()


def test_lookup_counts_the_samples_found_in_memory_ahead_and_in_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cache.sqlite"
    _filled(path)  # samples 0-2 on disk
    cache = ResponseCache(path)
    cache.read_ahead()
    writer = ResponseCache(path)  # sample 3 written since the read-ahead, by another process
    writer.put(KEY, 3, ChatResponse(text="s3", model="m"))
    writer.close()
    cache.put(KEY, 4, ChatResponse(text="s4", model="m"))  # sample 4 not yet on disk
    found, hits = cache.lookup(KEY, 1, 5)
    assert [r.text if r else None for r in found] == ["s1", "s2", "s3", "s4", None]
    assert hits == 4
    assert cache.statistics() == {"hits": 4, "misses": 1}
    assert cache.lookup(OTHER, 0, 2) == ([None, None], 0)
    assert cache.statistics() == {"hits": 4, "misses": 3}
    cache.close()


def test_samples_all_read_ahead_are_served_and_counted_as_the_others(tmp_path: Path) -> None:
    # A cached rerun's lookups: every sample asked is in the read-ahead's rows.
    path = tmp_path / "cache.sqlite"
    _filled(path)
    cache = ResponseCache(path)
    cache.read_ahead()
    _forget_on_disk(path)  # only the read-ahead can answer
    found, hits = cache.lookup(KEY, 0, 3)
    assert [r.text if r else None for r in found] == ["s0", "s1", "s2"] and hits == 3
    assert found[1] is not None and found[1].usage == Usage(7, 3) and found[1].model == "m"
    one = cache.get(KEY, 2)
    assert one is not None and one.text == "s2" and one.usage == Usage(7, 3)
    assert cache.get(KEY, 3) is None and cache.get(OTHER, 0) is None  # read from the file
    assert cache.lookup(KEY, 2, 2) == ([*found[2:], None], 1)  # s2 ahead, s3 nowhere
    assert cache.statistics() == {"hits": 3 + 1 + 1, "misses": 2 + 1}
    cache.close()


def test_entries_written_after_the_read_ahead_are_read_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    _filled(path)
    cache = ResponseCache(path)
    cache.read_ahead()
    writer = ResponseCache(path)  # another process's cache on the same file
    writer.put(OTHER, 0, ChatResponse(text="later", model="m"))
    writer.close()
    later = cache.get(OTHER, 0)
    assert later is not None and later.text == "later"
    cache.close()


def test_no_read_ahead_for_a_large_file_when_off_or_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    _filled(path)
    assert ResponseCache(path, read_ahead_mib=0).read_ahead() == 0
    tiny = ResponseCache(path, read_ahead_mib=path.stat().st_size / 2**20 / 2)
    assert tiny.read_ahead() == 0
    _forget_on_disk(path)
    assert tiny.get(KEY, 0) is None  # nothing was held in memory
    assert ResponseCache().read_ahead() == 0


async def test_a_call_path_reads_its_cache_ahead_when_it_opens(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    provider = FakeProvider(numbered)
    async with CallPath(cache=path) as calls:
        first = await Engine(architecture(provider, 3), callpath=calls).generate("q")
    async with CallPath(cache=path) as calls:
        _forget_on_disk(path)  # after the call path opened: what it read ahead answers
        again = await Engine(architecture(provider, 3), callpath=calls).generate("q")
        assert calls.spent().cache_hits == 3 and calls.spent().calls == 0
    assert len(provider.requests) == 3  # the rerun sent nothing
    assert again.candidates == first.candidates
    assert all(call.cached and call.input_tokens == 0 for call in again.trace.calls())


async def test_the_hits_of_a_fully_cached_request_are_counted_and_marked() -> None:
    provider = FakeProvider(numbered)
    request = ChatRequest(model="m", model_type="Fake_API", messages=[])
    async with CallPath(cache=ResponseCache()) as calls:
        await Engine(architecture(provider, 1), callpath=calls).open()  # adopts Fake_API
        drawn = await calls.complete_samples(request, 4, first=0)
        again = await calls.complete_samples(request, 4, first=0)
        spent = calls.spent()
    assert len(provider.requests) == 4 and spent.calls == 4 and spent.cache_hits == 4
    assert [o[0].text for o in again if not isinstance(o, Exception)] == [
        o[0].text for o in drawn if not isinstance(o, Exception)
    ]
    records = [o[1] for o in again if not isinstance(o, Exception)]
    assert len(records) == 4
    assert all(r.cached and r.model == "m" and r.provider == "Fake_API" for r in records)
    assert all(r.input_tokens == 0 and r.output_tokens == 0 for r in records)


def test_a_request_key_stays_the_same_across_versions() -> None:
    """Cache files outlive the code: a key computed today must be found tomorrow."""
    request = ChatRequest(
        model="m",
        model_type="OpenAI_API",
        messages=[{"role": "user", "content": "q"}],
        temperature=0.7,
        max_tokens=64,
        extra={"seed": 1},
        stop=("END",),
    )
    key = request_key("OpenAIChatProvider", "https://a/v1", request)
    assert key.hex() == "7ad827c97c3ccf2ebb66da3237094f1e"  # recorded on 2026-11-30


def test_a_read_ahead_started_early_is_the_one_read_ahead_returns(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    _filled(path)
    cache = ResponseCache(path)
    cache.start_read_ahead()
    assert cache.read_ahead() == 3  # waited for the started read
    _forget_on_disk(path)
    assert [r.text if r else None for r in cache.get_many(KEY, 0, 3)] == ["s0", "s1", "s2"]
    cache.close()


def test_an_early_read_ahead_that_fails_raises_when_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    _filled(path)
    cache = ResponseCache(path)
    path.write_bytes(b"not a database" * 100)  # replaced behind its back
    cache.start_read_ahead()
    with pytest.raises(ConfigError, match="response cache"):
        cache.read_ahead()
    cache.close()


def test_closing_waits_for_an_early_read_ahead_nobody_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cache.sqlite"
    _filled(path)
    release, threads = threading.Event(), []
    read = ResponseCache._read_ahead_now

    def slow(self: ResponseCache) -> int:
        threads.append(threading.current_thread())
        release.wait(10)
        return read(self)

    monkeypatch.setattr(ResponseCache, "_read_ahead_now", slow)
    cache = ResponseCache(path)
    cache.start_read_ahead()
    threading.Timer(0.1, release.set).start()
    cache.close()  # a command that failed before its call path opened
    assert threads and threads[0] is not threading.main_thread()
    assert not threads[0].is_alive()
    _forget_on_disk(path)
    assert cache.get(KEY, 0) is None  # what it read is dropped with the closed cache


@pytest.mark.parametrize("estimate", [False, True])
def test_the_command_starts_reading_its_cache_as_it_builds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, estimate: bool
) -> None:
    path = tmp_path / "cache.sqlite"
    _filled(path)
    started: list[threading.Thread] = []
    read = ResponseCache._read_ahead_now

    def noted(self: ResponseCache) -> int:
        started.append(threading.current_thread())
        return read(self)

    monkeypatch.setattr(ResponseCache, "_read_ahead_now", noted)
    args = argparse.Namespace(cache=path, cache_namespace="default", estimate=estimate)
    cache = cache_from_args(args)
    assert cache is not None
    if estimate:  # --estimate never opens its call path: nothing to read
        assert cache.read_ahead() == 3 and started == [threading.main_thread()]
    else:
        assert cache.read_ahead() == 3
        assert len(started) == 1 and started[0] is not threading.main_thread()
    cache.close()
