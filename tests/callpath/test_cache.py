"""The response cache: hits, misses, sample reuse, single flight, no cached errors, processes."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from archon_async import (
    Architecture,
    BadRequestError,
    CallPath,
    ChatRequest,
    Engine,
    LayerFailedGroup,
    ResponseCache,
)
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from archon_async.callpath._cache import request_key
from archon_async.simulate import SimulatedServer, SimulationSettings
from tests.cli_process import CliChild, cli_env, expect_status
from tests.conftest import FakeProvider, fake_registry

COUNTER = {"n": 0}


def numbered(request: ChatRequest) -> str:
    """A distinct reply per request sent, so a reused sample is recognisable."""
    COUNTER["n"] += 1
    return f"reply {COUNTER['n']}"


def architecture(provider: FakeProvider, samples: int, **fields: Any) -> Architecture:
    spec = {"type": "generator", "model": "m", "model_type": "Fake_API", "samples": samples}
    return Architecture.from_dict({"layers": [[spec | fields]]}, registry=fake_registry(provider))


async def test_a_second_run_is_answered_from_the_cache_at_no_cost() -> None:
    provider = FakeProvider(numbered)
    async with CallPath(cache=ResponseCache()) as calls:
        engine = Engine(architecture(provider, 3), callpath=calls)
        first = await engine.generate("q")
        second = await engine.generate("q")
        other = await engine.generate("another question")
    assert len(provider.requests) == 6  # 3 for "q", 3 for the other question
    assert second.candidates == first.candidates
    assert second.trace.totals()["calls"] == 0
    assert second.trace.totals()["cache_hits"] == 3
    assert second.trace.input_tokens == 0  # a hit costs nothing
    assert all(call.cached for call in second.trace.calls())
    assert other.trace.totals() | {"elapsed_s": 0} == {
        "calls": 3,
        "failed_calls": 0,
        "cache_hits": 0,
        "input_tokens": 30,
        "output_tokens": 15,
        "retries": 0,
        "limit_wait_s": 0.0,
        "elapsed_s": 0,
    }
    assert calls.spent().cache_hits == 3 and calls.spent().calls == 6


async def test_five_samples_reuse_the_three_another_architecture_drew() -> None:
    provider = FakeProvider(numbered)
    async with CallPath(cache=ResponseCache()) as calls:
        three = await Engine(architecture(provider, 3), callpath=calls).generate("q")
        five = await Engine(architecture(provider, 5), callpath=calls).generate("q")
    assert len(provider.requests) == 5  # 3, then only the 2 missing samples
    assert five.trace.cache_hits == 3 and five.trace.call_count == 2
    assert set(three.candidates) < set(five.candidates)


async def test_identical_requests_in_flight_are_sent_once() -> None:
    release = anyio.Event()

    async def slow(request: ChatRequest) -> str:
        await release.wait()
        return numbered(request)

    provider = FakeProvider(slow)
    async with CallPath(cache=ResponseCache()) as calls:
        engines = [Engine(architecture(provider, 2), callpath=calls) for _ in range(3)]
        results: list[Any] = []

        async def run(engine: Engine) -> None:
            results.append(await engine.generate("q"))

        async with anyio.create_task_group() as group:
            for engine in engines:
                group.start_soon(run, engine)
            await anyio.sleep(0.05)
            assert len(provider.requests) == 2  # samples 0 and 1, once each
            release.set()
    assert len(provider.requests) == 2
    assert [r.candidates for r in results] == [results[0].candidates] * 3
    assert sorted(r.trace.cache_hits for r in results) == [0, 2, 2]


async def test_errors_are_never_cached() -> None:
    failures = {"left": 1}

    def flaky(request: ChatRequest) -> str:
        if failures["left"]:
            failures["left"] -= 1
            raise BadRequestError("refused once", status_code=400)
        return numbered(request)

    provider = FakeProvider(flaky)
    async with CallPath(cache=ResponseCache()) as calls:
        engine = Engine(architecture(provider, 1), callpath=calls)
        with pytest.raises(LayerFailedGroup):
            await engine.generate("q")
        answer = await engine.generate("q")  # sent again, not served the error
        again = await engine.generate("q")
    assert len(provider.requests) == 2
    assert answer.trace.call_count == 1 and again.trace.cache_hits == 1


async def test_the_namespace_and_every_sampling_parameter_are_part_of_the_address(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cache.sqlite"
    provider = FakeProvider(numbered)
    for namespace, temperature, expected_requests in (
        ("a", 0.7, 1),
        ("a", 0.7, 1),  # the same: a hit
        ("b", 0.7, 2),  # another namespace: a miss
        ("a", 0.2, 3),  # another temperature: a miss
    ):
        cache = ResponseCache(path, namespace=namespace)
        async with CallPath(cache=cache) as calls:
            engine = Engine(architecture(provider, 1, temperature=temperature), callpath=calls)
            await engine.generate("q")
        cache.close()
        assert len(provider.requests) == expected_requests


def test_request_keys_differ_by_wire_endpoint_model_messages_and_parameters() -> None:
    base = ChatRequest(
        model="m", model_type="T", messages=[{"role": "user", "content": "q"}], temperature=0.5
    )
    key = request_key("OpenAIChatProvider", "https://a/v1", base)
    variants = [
        request_key("GeminiProvider", "https://a/v1", base),
        request_key("OpenAIChatProvider", "https://b/v1", base),
        request_key("OpenAIChatProvider", "simulated:1234", base),
    ]
    for change in (
        {"model": "m2"},
        {"messages": [{"role": "user", "content": "q2"}]},
        {"messages": [{"role": "system", "content": "q"}]},
        {"temperature": 0.6},
        {"max_tokens": 10},
        {"extra": {"seed": 9}},
        {"top_p": 0.9},
        {"stop": ("END",)},
    ):
        fields: dict[str, Any] = {
            "model": "m",
            "model_type": "T",
            "messages": base.messages,
            "temperature": 0.5,
        }
        other = ChatRequest(**(fields | change))
        variants.append(request_key("OpenAIChatProvider", "https://a/v1", other))
    assert key not in variants and len(set(variants)) == len(variants)
    # The model_type's name and the key are not part of it: one endpoint, one answer.
    renamed = ChatRequest(model="m", model_type="U", messages=base.messages, temperature=0.5)
    assert request_key("OpenAIChatProvider", "https://a/v1", renamed) == key


async def test_a_batch_rerun_on_one_cache_sends_nothing(tmp_path: Path) -> None:
    settings = SimulationSettings(request_log=10_000)
    async with SimulatedServer(settings) as server:
        cache = tmp_path / "cache.sqlite"
        batch = [
            BatchItem(id=f"q{i}", messages=[{"role": "user", "content": f"question {i}"}])
            for i in range(20)
        ]
        outputs = []
        for run in range(2):
            engine = Engine(_default(), simulate=str(server.base_url), cache=cache)
            out = tmp_path / f"answers{run}.jsonl"
            stats = await run_batch(engine, batch, out, total=20, progress=io.StringIO())
            outputs.append([orjson.loads(line) for line in out.read_bytes().splitlines()])
            if run == 0:
                sent = len(server.request_log())
                # 12 calls a prompt in 4 requests: each generator's 5 samples in one (n=5).
                assert sent == 20 * 4 and stats.calls == 20 * 12 and stats.cache_hits == 0
        assert len(server.request_log()) == sent  # the rerun sent no request
        assert stats.cache_hits == 20 * 12 and stats.calls == 0
        first = {line["id"]: line["answer"] for line in outputs[0]}
        assert {line["id"]: line["answer"] for line in outputs[1]} == first
        assert all(line["calls"] == 0 and line["cache_hits"] == 12 for line in outputs[1])


def _default() -> dict[str, Any]:
    from archon_async._defaults import DEFAULT_ARCHITECTURE

    return DEFAULT_ARCHITECTURE


_WRITER = """
import sys, anyio
from archon_async import Engine
arch = {"name": "w", "layers": [[{"type": "generator", "model": "m", "model_type": "OpenAI_API",
        "max_tokens": 16, "samples": 4}]]}
async def main():
    async with Engine(arch, simulate=True, cache=sys.argv[1]) as engine:
        for i in range(int(sys.argv[3])):
            result = await engine.generate(f"{sys.argv[2]} {i}")
            print(result.trace.call_count, result.trace.cache_hits)
anyio.run(main)
"""


def test_one_cache_file_is_shared_by_processes_writing_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")

    writers = [_write(path, "alpha"), _write(path, "beta"), _write(path, "alpha")]
    for writer in writers:
        expect_status(writer.finish(timeout=120))
    # Every prompt of each process was answered; the two "alpha" processes raced on the
    # same requests: whatever each drew, a process reading afterwards finds all of them.
    reader = _write(path, "beta").finish(timeout=120)
    assert _counts(expect_status(reader).stdout) == ["0 4"] * 10
    reader = _write(path, "alpha").finish(timeout=120)
    assert _counts(expect_status(reader).stdout) == ["0 4"] * 10


def _write(path: str, tag: str) -> CliChild:
    """A process answering 10 prompts "TAG i" with 4 samples each on the cache at ``path``."""
    command = [sys.executable, "-c", _WRITER, path, tag, "10"]
    return CliChild(command, logs=Path(path).parent / "logs", env=cli_env())


def _counts(stdout: str) -> list[str]:
    """The writer's "calls hits" lines (the simulator logs a line of its own)."""
    return [line for line in stdout.splitlines() if "listening" not in line]
