"""Our adapters send the same request bodies as the official SDKs do for the same request.

Ours are captured with respx. The SDKs (openai 3.x, anthropic 2.x) send through ``httpx2``,
which respx does not patch, so theirs are captured with ``httpx2.MockTransport``: neither
side reaches the network.
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import openai
import orjson
import pytest
import respx

from archon_async.core import ChatRequest, Message, ProviderSettings
from archon_async.providers.anthropic_messages import ANTHROPIC_VERSION, AnthropicMessagesProvider
from archon_async.providers.openai_chat import OpenAIChatProvider
from tests.providers.helpers import SECRET

OPENAI_REPLY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "m-1",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "4", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13},
}
ANTHROPIC_REPLY = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "content": [{"type": "text", "text": "4"}],
    "model": "m-1",
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 9, "output_tokens": 1},
}
CONVERSATION: list[Message] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "4."},
    {"role": "user", "content": "And 3+3?"},
]


class Captured:
    """The requests an SDK sent through its mock transport."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.requests: list[httpx2.Request] = []
        self._reply = reply

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return httpx2.Response(200, json=self._reply)

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self.handler))

    def body(self) -> Any:
        return orjson.loads(self.requests[-1].content)


def _agree(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Every field we send has the SDK's value, and the SDK sends no field we leave out."""
    assert {name: theirs.get(name) for name in ours} == ours
    assert set(theirs) == set(ours)


CASES: list[tuple[str, dict[str, Any]]] = [
    ("all options", {"temperature": 0.5, "max_tokens": 64}),
    ("no options", {}),
    ("extra fields", {"temperature": 0.2, "max_tokens": 16, "extra": {"seed": 7, "top_p": 0.9}}),
]


@pytest.mark.parametrize(("case", "options"), CASES, ids=[case for case, _ in CASES])
async def test_openai_body_matches_the_sdk(
    router: respx.MockRouter, case: str, options: dict[str, Any]
) -> None:
    route = router.post("https://api.openai.com/v1/chat/completions").respond(
        200, json=OPENAI_REPLY
    )
    request = ChatRequest(model="m-1", model_type="OpenAI_API", messages=CONVERSATION, **options)
    provider = OpenAIChatProvider("OpenAI_API", ProviderSettings())
    await provider.send(request, api_key=SECRET)
    await provider.aclose()
    ours = route.calls.last.request

    captured = Captured(OPENAI_REPLY)
    named = {k: v for k, v in options.items() if k in ("temperature", "max_tokens")}
    async with openai.AsyncOpenAI(
        api_key=SECRET, max_retries=0, http_client=captured.client()
    ) as client:
        await client.chat.completions.create(
            model="m-1",
            messages=CONVERSATION,  # type: ignore[arg-type]  # our Message's role is a str
            **named,
            **options.get("extra", {}),
        )
    theirs = captured.requests[-1]

    _agree(orjson.loads(ours.content), captured.body())
    assert str(ours.url) == str(theirs.url)
    assert ours.headers["authorization"] == theirs.headers["authorization"]
    assert ours.headers["content-type"] == theirs.headers["content-type"]


@pytest.mark.parametrize(("case", "options"), CASES, ids=[case for case, _ in CASES])
async def test_anthropic_body_matches_the_sdk(
    router: respx.MockRouter, case: str, options: dict[str, Any]
) -> None:
    route = router.post("https://api.anthropic.com/v1/messages").respond(200, json=ANTHROPIC_REPLY)
    request = ChatRequest(model="m-1", model_type="Anthropic_API", messages=CONVERSATION, **options)
    provider = AnthropicMessagesProvider("Anthropic_API", ProviderSettings())
    await provider.send(request, api_key=SECRET)
    await provider.aclose()
    ours = route.calls.last.request
    ours_body = orjson.loads(ours.content)

    captured = Captured(ANTHROPIC_REPLY)
    # SDK 2.x sends API version 2026-10-21 by default, which has no sampling parameters;
    # asked for our version, temperature goes through extra_body as it does for its users.
    sampling = {"temperature": options["temperature"]} if "temperature" in options else {}
    async with anthropic.AsyncAnthropic(
        api_key=SECRET,
        max_retries=0,
        http_client=captured.client(),
        default_headers={"anthropic-version": ANTHROPIC_VERSION},
    ) as client:
        await client.messages.create(
            model="m-1",
            max_tokens=ours_body["max_tokens"],  # ours has a default; the SDK needs one
            system="Be brief.",
            messages=[m for m in CONVERSATION if m["role"] != "system"],  # type: ignore[misc]
            extra_body={**sampling, **options.get("extra", {})},
        )
    theirs = captured.requests[-1]

    _agree(ours_body, captured.body())
    assert str(ours.url) == str(theirs.url)
    assert ours.headers["anthropic-version"] == theirs.headers["anthropic-version"]
    assert ours.headers["content-type"] == theirs.headers["content-type"]
    # The SDK sends the key as a bearer token; we send x-api-key, which the API prefers
    # when both are given. Either way it is the same key.
    assert ours.headers["x-api-key"] == theirs.headers["authorization"].removeprefix("Bearer ")
