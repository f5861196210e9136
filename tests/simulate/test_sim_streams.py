"""The simulator's streams, read by the official SDKs' own stream parsers."""

from __future__ import annotations

import asyncio

import anthropic
import httpx
import openai
from sim_helpers import Serve

QUESTION = [{"role": "user", "content": "Name a prime number."}]


async def test_openai_sdk_reads_the_chunks_usage_and_done(serve: Serve) -> None:
    sim = await serve(reply_tokens=12)
    client = openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0)
    stream = await client.chat.completions.create(
        model="m", messages=QUESTION, stream=True, n=2, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    await client.close()
    texts = {0: "", 1: ""}
    finish = {}
    for chunk in chunks[:-1]:
        assert chunk.object == "chat.completion.chunk" and chunk.usage is None
        (choice,) = chunk.choices
        texts[choice.index] += choice.delta.content or ""
        if choice.finish_reason:
            finish[choice.index] = choice.finish_reason
    assert finish == {0: "stop", 1: "stop"} and texts[0] and texts[0] != texts[1]
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    assert (
        usage.completion_tokens > 0
        and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    )
    stats = sim.stats()
    assert stats.replies == 1 and stats.completion_tokens == usage.completion_tokens


async def test_anthropic_sdk_reads_the_events_into_a_message(serve: Serve) -> None:
    sim = await serve(reply_tokens=12)
    client = anthropic.AsyncAnthropic(base_url=sim.anthropic_base_url, api_key="k", max_retries=0)
    async with client.messages.stream(
        model="claude-x", max_tokens=200, messages=QUESTION
    ) as stream:  # type: ignore[arg-type]
        text = "".join([piece async for piece in stream.text_stream])
        message = await stream.get_final_message()
    await client.close()
    assert text and message.content[0].type == "text" and message.content[0].text == text
    assert message.stop_reason == "end_turn" and message.usage.output_tokens > 1
    assert message.usage.input_tokens > 0 and message.model == "claude-x"


async def test_gemini_stream_as_sse_and_as_a_json_array(serve: Serve) -> None:
    sim = await serve(reply_tokens=6)
    body = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    url = f"{sim.google_base_url}/v1beta/models/gemini-x:streamGenerateContent"
    async with httpx.AsyncClient() as client:
        sse = await client.post(url, params={"alt": "sse"}, json=body)
        array = await client.post(url, json=body)
    assert sse.headers["content-type"].startswith("text/event-stream")
    events = [line for line in sse.text.split("\n\n") if line]
    assert len(events) > 2 and all(event.startswith("data: ") for event in events)
    responses = array.json()
    assert isinstance(responses, list) and len(responses) == len(events)
    assert responses[-1]["candidates"][0]["finishReason"] == "STOP"
    assert "usageMetadata" in responses[-1] and "usageMetadata" not in responses[0]


async def test_a_stream_cut_short_is_counted_as_cancelled(serve: Serve) -> None:
    sim = await serve(reply_tokens=40, chunk_interval_s=0.05)
    client = openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0)
    stream = await client.chat.completions.create(model="m", messages=QUESTION, stream=True)
    async for _ in stream:
        break
    await stream.close()  # the client goes away after the first chunk
    await client.close()
    for _ in range(400):
        if sim.stats().in_flight == 0:
            break
        await asyncio.sleep(0.01)
    stats = sim.stats()
    assert stats.in_flight == 0 and stats.cancelled == 1 and stats.replies == 0
