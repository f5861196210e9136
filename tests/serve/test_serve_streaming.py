"""Answers streamed through the server as the provider writes them."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from archon_async import Engine
from archon_async.serve import TRACE_HEADER, create_app
from tests.conftest import fake_registry
from tests.engine.test_stream import StreamingFake
from tests.serve.conftest import Clients
from tests.serve.serve_helpers import architecture, running, simulator, wait_until

QUESTION = [{"role": "user", "content": "Explain rainbows."}]


def test_the_final_call_streams_through_as_it_is_written(clients: Clients) -> None:
    with simulator(reply_tokens=20, chunk_interval_s=0.02) as sim:
        with running(create_app([architecture()], simulate=sim.base_url)) as root:
            in_flight_at_first: list[int] = []
            pieces: list[str] = []
            with clients(root, "none").chat.completions.with_streaming_response.create(
                model="one-call", messages=QUESTION, stream=True
            ) as raw:
                trace_id = raw.headers[TRACE_HEADER]
                for chunk in raw.parse():
                    if chunk.choices and chunk.choices[0].delta.content:
                        if not pieces:
                            in_flight_at_first.append(sim.stats().in_flight)
                        pieces.append(chunk.choices[0].delta.content)
            trace = httpx.get(f"{root}/v1/traces/{trace_id}").json()
    # The first piece reached the client while the provider was still writing the reply.
    assert in_flight_at_first == [1] and len(pieces) > 5
    outputs = trace["choices"][0]["trace"]["layers"][0]["components"][0]["outputs"]
    assert outputs["candidates"] == ["".join(pieces)]


def test_a_client_leaving_mid_stream_stops_the_provider_stream(clients: Clients) -> None:
    with simulator(reply_tokens=60, chunk_interval_s=0.05) as sim:
        with running(create_app([architecture()], simulate=sim.base_url)) as root:
            stream = clients(root, "none").chat.completions.create(
                model="one-call", messages=QUESTION, stream=True
            )
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    break
            stream.close()
            wait_until(lambda: sim.stats().in_flight == 0)
            stats = sim.stats()
    assert stats.cancelled == 1 and stats.replies == 0


def _engine(provider: Any, name: str) -> Engine:
    generator = {"type": "generator", "model": "g", "model_type": "Fake_API"}
    config = {"name": name, "layers": [[generator]]}
    return Engine(
        config, registry=fake_registry(provider), providers={"Fake_API": {"max_retries": 0}}
    )


def test_a_failure_after_text_ends_the_stream_with_an_error_event(clients: Clients) -> None:
    provider = StreamingFake(["first ", "never"], fail_after=1)
    with running(create_app([_engine(provider, "breaks")])) as root:
        pieces: list[str] = []
        stream = clients(root, "none").chat.completions.create(
            model="breaks", messages=QUESTION, stream=True
        )
        with pytest.raises(openai.APIError, match="HTTP 503: boom") as failed:
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    pieces.append(chunk.choices[0].delta.content)  # noqa: PERF401 (up to the error)
    assert pieces == ["first "]
    assert isinstance(failed.value.body, dict) and failed.value.body["type"] == "upstream_error"


def test_a_failure_before_any_text_keeps_its_status(clients: Clients) -> None:
    provider = StreamingFake(["never"], fail_first_attempts=5)
    with running(create_app([_engine(provider, "fails")])) as root:
        with pytest.raises(openai.APIStatusError) as failed:
            clients(root, "none").chat.completions.create(
                model="fails", messages=QUESTION, stream=True
            )
    assert failed.value.status_code == 502
