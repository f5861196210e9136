"""The server driven by the official openai client (sync and async, whole and streamed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from archon_async import Engine
from archon_async.serve import TRACE_HEADER, create_app
from tests.conftest import FakeProvider, fake_registry
from tests.serve.conftest import Clients
from tests.serve.serve_helpers import CLIENT_TIMEOUT_S, KEY, architecture, ranked, running

QUESTION = [{"role": "user", "content": "What is 17 * 23?"}]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """One server for the module: two architectures on the in-process simulator."""
    app = create_app([architecture(), ranked()], api_keys=[KEY], simulate=True)
    with running(app) as root:
        yield root


def trace_of(url: str, trace_id: str) -> dict[str, Any]:
    reply = httpx.get(
        f"{url}/v1/traces/{trace_id}",
        headers={"authorization": f"Bearer {KEY}"},
        timeout=CLIENT_TIMEOUT_S,  # httpx's default 5 s is short for a loaded machine
    )
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def test_models_are_the_configs_names(url: str, clients: Clients) -> None:
    models = clients(url).models.list()
    assert [model.id for model in models] == ["one-call", "sample-rank"]
    assert clients(url).models.retrieve("sample-rank").id == "sample-rank"


def test_completion_carries_the_answer_usage_and_trace(url: str, clients: Clients) -> None:
    raw = clients(url).chat.completions.with_raw_response.create(
        model="sample-rank", messages=QUESTION
    )
    completion = raw.parse()
    answer = completion.choices[0].message.content
    assert answer and completion.choices[0].finish_reason == "stop"
    assert completion.model == "sample-rank" and completion.object == "chat.completion"
    trace = trace_of(url, raw.headers[TRACE_HEADER])
    assert trace["id"] == completion.id
    (choice,) = trace["choices"]
    totals = choice["trace"]["totals"]
    assert totals["calls"] == 4  # three samples and the ranker
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == totals["input_tokens"] > 0
    assert completion.usage.completion_tokens == totals["output_tokens"] > 0
    candidates = choice["trace"]["layers"][-1]["components"][0]["outputs"]["candidates"]
    assert answer in candidates


def test_n_choices_are_separate_runs_seeded_in_turn(url: str, clients: Clients) -> None:
    raw = clients(url).chat.completions.with_raw_response.create(
        model="one-call", messages=QUESTION, n=3, seed=40
    )
    completion = raw.parse()
    assert [choice.index for choice in completion.choices] == [0, 1, 2]
    trace = trace_of(url, raw.headers[TRACE_HEADER])
    assert len(trace["choices"]) == 3
    calls = sum(choice["trace"]["totals"]["calls"] for choice in trace["choices"])
    assert calls == 3
    usage = sum(c["trace"]["totals"]["output_tokens"] for c in trace["choices"])
    assert completion.usage is not None and completion.usage.completion_tokens == usage


def test_seed_picks_reproducibly_among_final_candidates(clients: Clients) -> None:
    # A final layer of three samples leaves three candidates: the seed decides the pick.
    app = create_app([architecture("three", samples=3)], simulate=True)
    with running(app) as root:
        raw = clients(root, "none").chat.completions.with_raw_response.create(
            model="three", messages=QUESTION, seed=7, n=2
        )
        trace = trace_of_anyone(root, raw.headers[TRACE_HEADER])
    seeds = [choice["trace"]["final_choice"]["seed"] for choice in trace["choices"]]
    assert seeds == [7, 8]


def trace_of_anyone(url: str, trace_id: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{url}/v1/traces/{trace_id}", timeout=CLIENT_TIMEOUT_S).json()
    return body


def test_temperature_and_max_tokens_override_the_answer_layer(clients: Clients) -> None:
    provider = FakeProvider(lambda request: "fine")
    config = {
        "name": "fake",
        "layers": [
            [{"type": "generator", "model": "g", "model_type": "Fake_API", "samples": 2}],
            [{"type": "fuser", "model": "f", "model_type": "Fake_API", "temperature": 0.3}],
        ],
    }
    engine = Engine(config, registry=fake_registry(provider))
    with running(create_app([engine])) as root:
        sync = clients(root, "none")
        sync.chat.completions.create(model="fake", messages=QUESTION)
        sync.chat.completions.create(
            model="fake", messages=QUESTION, temperature=0.0, max_completion_tokens=99
        )
    plain, overridden = provider.requests[:3], provider.requests[3:]
    assert [(r.model, r.temperature) for r in plain] == [("g", 0.7), ("g", 0.7), ("f", 0.3)]
    # The generators keep their settings; the fuser, which writes the answer, takes the
    # request's temperature and budget.
    assert [(r.model, r.temperature, r.max_tokens) for r in overridden] == [
        ("g", 0.7, 2048),
        ("g", 0.7, 2048),
        ("f", 0.0, 99),
    ]


def test_top_p_applies_to_the_answer_layer_as_temperature_does(clients: Clients) -> None:
    # top_p was accepted and silently dropped: no call was sent with it.
    provider = FakeProvider(lambda request: "fine")
    config = {
        "name": "fake",
        "layers": [
            [{"type": "generator", "model": "g", "model_type": "Fake_API", "top_p": 0.9}],
            [{"type": "fuser", "model": "f", "model_type": "Fake_API"}],
        ],
    }
    engine = Engine(config, registry=fake_registry(provider))
    with running(create_app([engine])) as root:
        sync = clients(root, "none")
        sync.chat.completions.create(model="fake", messages=QUESTION)
        sync.chat.completions.create(model="fake", messages=QUESTION, top_p=0.25)
        for _chunk in sync.chat.completions.create(
            model="fake", messages=QUESTION, top_p=0.5, stream=True
        ):
            pass
    sent = [(r.model, r.top_p) for r in provider.requests]
    assert sent == [
        ("g", 0.9), ("f", None),  # as configured
        ("g", 0.9), ("f", 0.25),  # the fuser writes the answer: it takes the request's
        ("g", 0.9), ("f", 0.5),  # streamed alike
    ]  # fmt: skip


def test_stream_sync_ends_with_usage_and_done(url: str, clients: Clients) -> None:
    with clients(url).chat.completions.with_streaming_response.create(
        model="sample-rank",
        messages=QUESTION,
        stream=True,
        stream_options={"include_usage": True},
    ) as raw:
        trace_id = raw.headers[TRACE_HEADER]
        assert raw.headers["content-type"].startswith("text/event-stream")
        chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[0].choices[0].delta.role == "assistant"
    finals = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finals[-1] == "stop" and finals.count("stop") == 1
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    totals = trace_of(url, trace_id)["choices"][0]["trace"]["totals"]
    assert usage.prompt_tokens == totals["input_tokens"]
    assert usage.completion_tokens == totals["output_tokens"]
    assert all(c.usage is None for c in chunks[:-1])
    candidates = trace_of(url, trace_id)["choices"][0]["trace"]["layers"][-1]["components"][0]
    assert text in candidates["outputs"]["candidates"]


async def test_async_client_whole_and_streamed(url: str) -> None:
    async_client = openai.AsyncOpenAI(
        base_url=f"{url}/v1", api_key=KEY, max_retries=0, timeout=CLIENT_TIMEOUT_S
    )
    completion = await async_client.chat.completions.create(model="one-call", messages=QUESTION)
    assert completion.choices[0].message.content
    stream = await async_client.chat.completions.create(
        model="one-call", messages=QUESTION, stream=True, n=2
    )
    texts = {0: "", 1: ""}
    finished = set()
    async for piece in stream:
        for choice in piece.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason == "stop":
                finished.add(choice.index)
    assert finished == {0, 1} and all(texts.values())
    await async_client.close()
