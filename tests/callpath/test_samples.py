"""`n`: a component's samples in as few requests as the provider allows, per-sample traces."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from archon_async import CallPath, Engine, ResponseCache
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from archon_async._defaults import DEFAULT_ARCHITECTURE
from archon_async._types import CallRecord, ChatRequest, ChatResponse, Usage
from archon_async.callpath._samples import chunk_sizes, most_allowed, refuses_n, sample_records
from archon_async.core import BadRequestError, ProviderError
from archon_async.simulate import ModelSettings, SimulatedServer, SimulationSettings


def generator(model_type: str, samples: int, model: str = "m") -> dict[str, Any]:
    spec = {
        "type": "generator",
        "model": model,
        "model_type": model_type,
        "max_tokens": 32,
        "samples": samples,
    }
    return {"name": "n-test", "layers": [[spec]]}


def sent_choices(server: SimulatedServer) -> list[int]:
    """How many choices each request the server received asked for."""
    return [record.n for record in server.request_log()]


async def test_the_default_architecture_needs_four_requests_a_prompt() -> None:
    async with SimulatedServer(SimulationSettings(request_log=100)) as server:
        async with Engine(DEFAULT_ARCHITECTURE, simulate=server.base_url) as engine:
            result = await engine.generate("What is 17 * 23?")
        stats = server.stats()
        assert sorted(sent_choices(server)) == [1, 1, 5, 5]
    calls = result.trace.calls()
    # The trace stays per sample: 12 calls, of which 8 came with another sample's request.
    assert result.trace.call_count == 12
    assert sum(call.batched for call in calls) == 8
    # Every token the server counted is in the trace, shared out among the samples.
    assert result.trace.input_tokens == stats.prompt_tokens
    assert result.trace.output_tokens == stats.completion_tokens
    assert all(call.output_tokens > 0 for call in calls)
    assert len(set(result.trace.layers[0].components[0].outputs["candidates"])) == 5


async def test_a_refused_n_falls_back_to_single_requests_and_is_remembered() -> None:
    settings = SimulationSettings(request_log=100, models={"m": ModelSettings(max_n=1)})
    async with SimulatedServer(settings) as server:
        async with CallPath(simulate=server.base_url) as calls:
            engine = Engine(generator("OpenAI_API", 4), callpath=calls)
            first = await engine.generate("one")
            assert sent_choices(server) == [4, 1, 1, 1, 1]  # refused, then one by one
            assert server.stats().bad_requests == 1
            second = await engine.generate("two")
            assert sent_choices(server)[5:] == [1, 1, 1, 1]  # remembered: no n asked
            # Another model of the same provider is still asked with n.
            await Engine(generator("OpenAI_API", 4, model="other"), callpath=calls).generate("x")
            assert sent_choices(server)[9:] == [4]
    assert len(first.candidates) == 4 and len(second.candidates) == 4
    assert calls.spent().calls == 4 + 4 + 4 + 1  # the refused request counts: it was sent


async def test_a_refusal_that_states_the_most_n_is_drawn_in_requests_of_that_many() -> None:
    """A provider that says how many samples a request may ask ("'n' : number must be at
    most 3") is asked that many from then on, not one a request: 7 samples are 3 requests
    (3, 2, 2), not 7."""
    settings = SimulationSettings(request_log=100, models={"m": ModelSettings(max_n=3)})
    async with SimulatedServer(settings) as server:
        async with CallPath(simulate=server.base_url) as calls:
            engine = Engine(generator("OpenAI_API", 7), callpath=calls)
            first = await engine.generate("one")
            assert sent_choices(server) == [7, 3, 2, 2]  # refused, then in threes
            second = await engine.generate("two")
            assert sent_choices(server)[4:] == [3, 2, 2]  # remembered
    assert len(set(first.candidates)) == 7 and len(set(second.candidates)) == 7
    assert server.stats().bad_requests == 1


def test_the_most_n_a_refusal_states_is_read_in_each_providers_words() -> None:
    def bad(message: str) -> BadRequestError:
        return BadRequestError(message, status_code=400)

    assert most_allowed(bad("'n' : number must be at most 3")) == 3
    assert most_allowed(bad("candidateCount must be at most 8 for model x")) == 8
    openai = "Invalid 'n': integer above maximum value. Expected a value <= 10, but got 16."
    assert most_allowed(bad(openai)) == 10
    assert most_allowed(bad("n must be between 1 and 4")) == 4
    assert most_allowed(bad("invalid request: n is not supported")) is None


async def test_gemini_draws_at_most_eight_candidates_a_request() -> None:
    async with SimulatedServer(SimulationSettings(request_log=100)) as server:
        async with Engine(generator("Google_API", 10), simulate=server.base_url) as engine:
            result = await engine.generate("q")
        assert sent_choices(server) == [5, 5]
    assert len(result.candidates) == 10 and result.trace.call_count == 10


async def test_providers_without_n_get_one_request_a_sample() -> None:
    async with SimulatedServer(SimulationSettings(request_log=100)) as server:
        for model_type in ("Anthropic_API", "Groq_API"):
            async with Engine(generator(model_type, 3), simulate=server.base_url) as engine:
                result = await engine.generate("q")
            assert len(result.candidates) == 3 and result.trace.call_count == 3
        assert sent_choices(server) == [1] * 6
        assert server.stats().bad_requests == 0


async def test_cached_samples_are_reused_and_only_the_rest_asked_with_n() -> None:
    async with SimulatedServer(SimulationSettings(request_log=100)) as server:
        async with CallPath(simulate=server.base_url, cache=ResponseCache()) as calls:
            three = await Engine(generator("OpenAI_API", 3), callpath=calls).generate("q")
            five = await Engine(generator("OpenAI_API", 5), callpath=calls).generate("q")
        assert sent_choices(server) == [3, 2]
    assert set(three.candidates) < set(five.candidates)
    assert five.trace.cache_hits == 3 and five.trace.call_count == 2


def test_refusals_of_n_are_told_from_other_bad_requests() -> None:
    def bad(message: str, body: str = "") -> BadRequestError:
        return BadRequestError(message, status_code=400, body=body)

    assert refuses_n(bad("'n' : number must be at most 1"))
    assert refuses_n(bad("invalid request", '{"error": {"param": "n"}}'))
    assert refuses_n(bad("candidateCount must be at most 1 for model x"))
    assert not refuses_n(bad("max_tokens is too large: 9000"))
    assert not refuses_n(bad("This model's maximum context length is 8192 tokens"))
    assert chunk_sizes(10, 8) == [5, 5] and chunk_sizes(7, 3) == [3, 2, 2]
    assert chunk_sizes(5, 128) == [5]


async def test_a_cached_sample_reads_the_same_as_one_drawn_from_a_fresh_simulator() -> None:
    """Sample j of a request is a function of the request, the seed and j: a cache missing
    some samples (a search resumed on a fresh server) gets the very replies it would have."""

    async def draw(first: int, count: int, model_type: str) -> list[str]:
        async with SimulatedServer(SimulationSettings(seed=5)) as server:
            async with CallPath(simulate=server.base_url, cache=ResponseCache()) as calls:
                request = ChatRequest(
                    model="m",
                    model_type=model_type,
                    messages=[{"role": "user", "content": "q"}],
                    max_tokens=32,
                )
                outcomes = await calls.complete_samples(request, count, first=first)
        assert not any(isinstance(outcome, ProviderError) for outcome in outcomes)
        return [outcome[0].text for outcome in outcomes]  # type: ignore[index]

    for model_type in ("OpenAI_API", "Google_API", "Anthropic_API"):  # n, or one a sample
        whole = await draw(0, 5, model_type)
        assert len(set(whole)) == 5
        assert await draw(3, 2, model_type) == whole[3:]
        assert await draw(1, 1, model_type) == whole[1:2]


def test_the_samples_of_one_request_count_its_wait_and_retries_once() -> None:
    """The trace's limit_wait_s summed the request's wait once per sample (a generate with
    2 requests of 5 samples said 3.2 s of waiting in a 0.7 s run)."""
    record = CallRecord(
        model="m", provider="p", latency_s=0.1, input_tokens=30, output_tokens=15,
        retries=1, wait_s=2.0, timeouts=1,
    )  # fmt: skip
    choices = tuple(ChatResponse(text=f"s{i}", usage=Usage(10, 5), model="m") for i in range(3))
    response = ChatResponse(text="s0", usage=Usage(30, 15), model="m", choices=choices)
    records = sample_records(record, response)
    assert len(records) == 3 and [r.batched for r in records] == [False, True, True]
    assert sum(r.wait_s for r in records) == 2.0
    assert sum(r.retries for r in records) == 1 and sum(r.timeouts for r in records) == 1
    assert sum(r.input_tokens for r in records) == 30


async def test_a_batch_summary_counts_requests_apart_from_calls(tmp_path: Path) -> None:
    """What a requests-per-minute limit counts: 4 requests a prompt of the default
    architecture, though its trace and 'calls' keep 12 (one per sample)."""
    items = [
        BatchItem(id=f"q{i}", messages=[{"role": "user", "content": f"question {i}"}])
        for i in range(3)
    ]
    async with SimulatedServer(SimulationSettings(request_log=100)) as server:
        engine = Engine(DEFAULT_ARCHITECTURE, simulate=server.base_url)
        stats = await run_batch(
            engine, items, tmp_path / "out.jsonl", total=3, progress=io.StringIO()
        )
        sent = len(server.request_log())
    summary = stats.summary()
    assert summary["calls"] == 36 and summary["requests"] == 12 == sent
