"""Requests as each API accepts them, driven through Engine against respx stubs.

Anthropic output limits, OpenAI reasoning models, sampling parameters and the config's
``extra_body``/``omit``, Bedrock ids and regions, Groq's API root, role order on the strict
APIs, and lone surrogates in the input.
"""

from __future__ import annotations

import warnings
from typing import Any

import httpx
import orjson
import pytest
import respx

from archon_async import Architecture, ConfigWarning, Engine, InvalidInputError
from archon_async.providers._turns import OPENING_NOTE

OPENAI_OK = {
    "id": "c1",
    "object": "chat.completion",
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1},
}
ANTHROPIC_OK = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 3, "output_tokens": 1},
}
BEDROCK_OK = {
    "output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 3, "outputTokens": 1},
}
KEYS = {
    "GOOGLE_API_KEY": ["g-test"],
    "OPENAI_API_KEY": ["sk-test"],
    "ANTHROPIC_API_KEY": ["ak-test"],
    "BEDROCK_API_KEY": ["bk-test"],
    "GROQ_API_KEY": ["gk-test"],
}


def one_generator(model_type: str, model: str, **fields: Any) -> dict[str, Any]:
    component = {"type": "generator", "model": model, "model_type": model_type, **fields}
    return {"name": "one", "layers": [[component]]}


def load(config: dict[str, Any]) -> Architecture:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        return Architecture.from_dict(config)


async def sent_body(route: respx.Route, config: dict[str, Any], prompt: Any = "Hi?") -> Any:
    before = route.call_count
    async with Engine(load(config), keys=KEYS) as engine:
        result = await engine.generate(prompt)
    assert result.text == "ok"
    assert route.call_count == before + 1
    return orjson.loads(route.calls.last.request.content)


# Anthropic output limits -------------------------------------------------------------------


async def test_anthropic_max_tokens_above_the_model_limit_is_clamped(
    router: respx.MockRouter,
) -> None:
    route = router.post("https://api.anthropic.com/v1/messages").respond(200, json=ANTHROPIC_OK)
    config = one_generator("Anthropic_API", "claude-3-5-sonnet-20240620", max_tokens=200000)
    with pytest.warns(ConfigWarning, match=r"layers\[0\]\[0\]: max_tokens 200000 is above"):
        Architecture.from_dict(config)

    body = await sent_body(route, config)

    assert body["max_tokens"] == 8192
    # 8192 needs the beta header on this model (4096 without it).
    assert route.calls.last.request.headers["anthropic-beta"] == "max-tokens-3-5-sonnet-2024-07-15"


async def test_anthropic_limit_by_model_and_the_provider_override(router: respx.MockRouter) -> None:
    route = router.post("https://api.anthropic.com/v1/messages").respond(200, json=ANTHROPIC_OK)
    opus = one_generator("Anthropic_API", "claude-3-opus-20240229", max_tokens=20000)
    assert (await sent_body(route, opus))["max_tokens"] == 4096
    assert "anthropic-beta" not in route.calls.last.request.headers

    within = one_generator("Anthropic_API", "claude-3-5-sonnet-20240620", max_tokens=4000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)  # nothing to say about it
        Architecture.from_dict(within)
    assert (await sent_body(route, within))["max_tokens"] == 4000
    assert "anthropic-beta" not in route.calls.last.request.headers

    unknown = one_generator("Anthropic_API", "claude-next-1", max_tokens=300000)
    assert (await sent_body(route, unknown))["max_tokens"] == 300000

    override = {
        **one_generator("Anthropic_API", "claude-sonnet-4-5-20250929", max_tokens=200000),
        "providers": {"Anthropic_API": {"max_output_tokens": {"claude-sonnet-4-5-20250929": 1000}}},
    }
    assert (await sent_body(route, override))["max_tokens"] == 1000


# OpenAI reasoning models and sampling parameters ----------------------------------------------


async def test_reasoning_models_get_max_completion_tokens_and_no_sampling(
    router: respx.MockRouter,
) -> None:
    route = router.post("https://api.openai.com/v1/chat/completions").respond(200, json=OPENAI_OK)
    config = one_generator(
        "OpenAI_API",
        "o3-mini",
        temperature=0.7,
        max_tokens=5000,
        top_p=0.9,
        stop=["END"],
        extra_body={"reasoning_effort": "low", "seed": 7},
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Architecture.from_dict(config)
    (note,) = [str(w.message) for w in caught if issubclass(w.category, ConfigWarning)]
    assert "temperature=0.7, top_p=0.9, stop=['END'] not sent" in note
    assert "max_tokens 5000 (sent as max_completion_tokens) also pays for its hidden" in note
    roomy = {
        **config,
        "layers": [[{**config["layers"][0][0], "max_tokens": 30000, "temperature": 1}]],
    }
    roomy["layers"][0][0].pop("top_p"), roomy["layers"][0][0].pop("stop")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)  # nothing left to say
        Architecture.from_dict(roomy)

    body = await sent_body(route, config)

    assert body == {
        "model": "o3-mini",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Hi?"},
        ],
        "max_completion_tokens": 5000,
        "reasoning_effort": "low",
        "seed": 7,
    }


@pytest.mark.parametrize("model", ["o1-mini", "o1-preview-2024-09-12"])
async def test_o1_mini_and_preview_get_the_system_text_in_the_user_turn(
    router: respx.MockRouter, model: str
) -> None:
    route = router.post("https://api.openai.com/v1/chat/completions").respond(200, json=OPENAI_OK)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    body = await sent_body(route, one_generator("OpenAI_API", model), messages)
    assert body["messages"] == [{"role": "user", "content": "Be brief.\n\nHi?"}]
    assert "max_tokens" not in body and body["max_completion_tokens"] == 2048


@pytest.mark.parametrize(
    ("model", "reasoning"),
    [
        ("o1", True),
        ("o4-mini-2025-04-16", True),
        ("gpt-5.1", True),
        ("gpt-5-mini", True),
        ("openai/o3", True),
        ("gpt-4o", False),
        ("gpt-4.1-mini", False),
        ("omni-7b", False),
    ],
)
async def test_which_models_are_reasoning_models(
    router: respx.MockRouter, model: str, reasoning: bool
) -> None:
    route = router.post("https://api.openai.com/v1/chat/completions").respond(200, json=OPENAI_OK)
    body = await sent_body(route, one_generator("OpenAI_API", model, max_tokens=99))
    assert ("max_completion_tokens" in body) is reasoning
    assert ("max_tokens" in body) is not reasoning
    assert ("temperature" in body) is not reasoning


async def test_top_p_stop_and_omit_on_a_chat_model(router: respx.MockRouter) -> None:
    route = router.post("https://api.openai.com/v1/chat/completions").respond(200, json=OPENAI_OK)
    config = one_generator(
        "OpenAI_API", "gpt-4o", top_p=0.5, stop="###", omit=["temperature", "max_tokens"]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)  # top_p and stop are known keys now
        Architecture.from_dict(config)

    body = await sent_body(route, config)

    assert body["top_p"] == 0.5 and body["stop"] == ["###"]
    assert "temperature" not in body and "max_tokens" not in body


async def test_top_p_and_stop_under_each_wires_own_names(router: respx.MockRouter) -> None:
    anthropic = router.post("https://api.anthropic.com/v1/messages").respond(200, json=ANTHROPIC_OK)
    body = await sent_body(
        anthropic, one_generator("Anthropic_API", "claude-3-haiku", top_p=0.8, stop=["a", "b"])
    )
    assert body["top_p"] == 0.8 and body["stop_sequences"] == ["a", "b"]

    bedrock = router.post(url__regex=r"https://bedrock-runtime\..*/converse").respond(
        200, json=BEDROCK_OK
    )
    body = await sent_body(
        bedrock, one_generator("Bedrock_API", "amazon.nova-lite-v1:0", top_p=0.8, stop="z")
    )
    assert body["inferenceConfig"]["topP"] == 0.8
    assert body["inferenceConfig"]["stopSequences"] == ["z"]


async def test_gemini_sampling_and_nested_extra_body(router: respx.MockRouter) -> None:
    gemini_ok = {
        "candidates": [
            {"content": {"parts": [{"text": "ok"}], "role": "model"}, "finishReason": "STOP"}
        ],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1},
    }
    route = router.post(url__regex=r"https://generativelanguage\.googleapis\.com/.*").respond(
        200, json=gemini_ok
    )
    config = one_generator(
        "Google_API",
        "gemini-1.5-pro-001",
        temperature=0.4,
        max_tokens=100,
        top_p=0.7,
        stop=["STOP"],
        extra_body={"generationConfig": {"seed": 7}, "safetySettings": []},
    )
    body = await sent_body(route, config)
    # An object in extra_body merges into the one the adapter built: nothing is lost.
    assert body["generationConfig"] == {
        "temperature": 0.4,
        "maxOutputTokens": 100,
        "topP": 0.7,
        "stopSequences": ["STOP"],
        "seed": 7,
    }
    assert body["safetySettings"] == []


def test_bad_values_of_the_new_keys_are_config_errors() -> None:
    from archon_async import ConfigError

    for bad, place in [
        ({"top_p": 1.5}, "top_p"),
        ({"omit": ["temprature"]}, "omit"),
        ({"extra_body": ["seed"]}, "extra_body"),
        ({"stop": 3}, "stop"),
    ]:
        with pytest.raises(ConfigError, match=rf"layers\[0\]\[0\]\.{place}"):
            Architecture.from_dict(one_generator("OpenAI_API", "gpt-4o", **bad))
    overrides = {"providers": {"Anthropic_API": {"max_output_tokens": {"claude-x": 0}}}}
    with pytest.raises(ConfigError, match="max_output_tokens"):
        Architecture.from_dict({**one_generator("Anthropic_API", "claude-x"), **overrides})


# Bedrock ids and regions, Groq's root URL ------------------------------------------------


async def test_bedrock_litellm_id_and_aws_region_name(
    router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("BEDROCK_REGION", "AWS_REGION", "AWS_DEFAULT_REGION", "BEDROCK_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION_NAME", "eu-west-3")
    route = router.post(
        "https://bedrock-runtime.eu-west-3.amazonaws.com/model/"
        "meta.llama3-70b-instruct-v1%3A0/converse"
    ).respond(200, json=BEDROCK_OK)

    await sent_body(route, one_generator("Bedrock_API", "bedrock/meta.llama3-70b-instruct-v1:0"))


async def test_bedrock_claude_max_tokens_is_clamped(router: respx.MockRouter) -> None:
    route = router.post(url__regex=r"https://bedrock-runtime\..*/converse").respond(
        200, json=BEDROCK_OK
    )
    model = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
    body = await sent_body(route, one_generator("Bedrock_API", model, max_tokens=200000))
    assert body["inferenceConfig"]["maxTokens"] == 4096  # no beta header on Converse


@pytest.mark.parametrize(
    ("given", "posted"),
    [
        ("https://api.groq.com", "https://api.groq.com/openai/v1/chat/completions"),
        ("https://groq.example/", "https://groq.example/openai/v1/chat/completions"),
        ("https://api.groq.com/openai/v1", "https://api.groq.com/openai/v1/chat/completions"),
        ("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1/chat/completions"),
    ],
)
async def test_groq_base_url_as_the_groq_sdk_means_it(
    router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, given: str, posted: str
) -> None:
    monkeypatch.setenv("GROQ_BASE_URL", given)
    route = router.post(posted).respond(200, json=OPENAI_OK)
    await sent_body(route, one_generator("Groq_API", "llama-3.1-8b-instant"))


# Role order on the strict APIs ----------------------------------------------------------------

CHAT = [
    {"role": "assistant", "content": "Hello! How can I help?"},
    {"role": "user", "content": "First part."},
    {"role": "user", "content": "Second part?"},
]


async def test_anthropic_turns_alternate_and_open_with_the_user(router: respx.MockRouter) -> None:
    route = router.post("https://api.anthropic.com/v1/messages").respond(200, json=ANTHROPIC_OK)
    body = await sent_body(route, one_generator("Anthropic_API", "claude-3-haiku"), CHAT)
    assert body["messages"] == [{"role": "user", "content": "First part.\n\nSecond part?"}]
    assert body["system"] == (
        f"You are a helpful assistant.\n\n{OPENING_NOTE}\n\nHello! How can I help?"
    )


async def test_bedrock_turns_alternate_and_open_with_the_user(router: respx.MockRouter) -> None:
    route = router.post(url__regex=r"https://bedrock-runtime\..*/converse").respond(
        200, json=BEDROCK_OK
    )
    conversation = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "assistant", "content": "c"},
        {"role": "user", "content": "d"},
    ]
    body = await sent_body(
        route, one_generator("Bedrock_API", "amazon.nova-lite-v1:0"), conversation
    )
    assert body["messages"] == [
        {"role": "user", "content": [{"text": "a"}]},
        {"role": "assistant", "content": [{"text": "b\n\nc"}]},
        {"role": "user", "content": [{"text": "d"}]},
    ]


# Lone surrogates -------------------------------------------------------------------------------


async def test_a_lone_surrogate_is_an_invalid_input_error_before_any_call(
    router: respx.MockRouter,
) -> None:
    route = router.post("https://api.openai.com/v1/chat/completions").respond(200, json=OPENAI_OK)
    async with Engine(load(one_generator("OpenAI_API", "gpt-4o")), keys=KEYS) as engine:
        with pytest.raises(InvalidInputError, match=r"the prompt .* \(U\+DCFF\) at character 4"):
            await engine.generate("caf\u00e9\udcff!")
        messages = [{"role": "user", "content": "ok"}, {"role": "user", "content": "x\ud83d"}]
        with pytest.raises(InvalidInputError, match=r"messages\[1\]\.content .* at character 1"):
            await engine.generate(messages)
    assert route.call_count == 0


async def test_groq_api_root_reaches_the_simulated_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from archon_async.simulate import SimulatedServer

    async with SimulatedServer() as server:
        monkeypatch.setenv("GROQ_BASE_URL", server.base_url)  # the root, as the groq SDK takes it
        config = load(one_generator("Groq_API", "llama-3.1-8b-instant", max_tokens=16))
        async with Engine(config, keys=KEYS) as engine:
            result = await engine.generate("Hi?")
        assert result.text
        assert server.stats().by_model == {"llama-3.1-8b-instant": 1}


# Limits the API states in a refusal -------------------------------------------------------


async def test_a_refusal_stating_the_limit_is_sent_again_lowered_once(
    router: respx.MockRouter,
) -> None:
    refusal = {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "max_tokens: 50000 > 32000, which is the maximum allowed number of "
            "output tokens for claude-future-9",
        },
    }
    route = router.post("https://api.anthropic.com/v1/messages")
    route.side_effect = [
        httpx.Response(400, json=refusal),
        httpx.Response(200, json=ANTHROPIC_OK),
        httpx.Response(200, json=ANTHROPIC_OK),
    ]
    config = load(one_generator("Anthropic_API", "claude-future-9", max_tokens=50000))
    async with Engine(config, keys=KEYS) as engine:
        first = await engine.generate("Hi?")
        second = await engine.generate("Again?")
    sent = [orjson.loads(call.request.content)["max_tokens"] for call in route.calls]
    assert sent == [50000, 32000, 32000]  # the next call is sent the stated limit at once
    assert first.text == second.text == "ok"
    assert first.trace.totals()["failed_calls"] == 0


async def test_bedrock_learns_a_stated_limit_and_other_400s_still_fail(
    router: respx.MockRouter,
) -> None:
    stated = {
        "message": "The maximum tokens you requested exceeds the model limit of 2048. "
        "Try again with a maximum tokens value that is lower than 2048."
    }
    other = {"message": "The provided model identifier is invalid."}
    route = router.post(url__regex=r"https://bedrock-runtime\..*/converse")
    route.side_effect = [
        httpx.Response(400, json=stated, headers={"x-amzn-ErrorType": "ValidationException"}),
        httpx.Response(200, json=BEDROCK_OK),
        httpx.Response(400, json=other, headers={"x-amzn-ErrorType": "ValidationException"}),
    ]
    config = load(one_generator("Bedrock_API", "meta.llama3-70b-instruct-v1:0", max_tokens=4096))
    async with Engine(config, keys=KEYS) as engine:
        assert (await engine.generate("Hi?")).text == "ok"
        with pytest.raises(Exception) as caught:
            await engine.generate("Again?")
    assert "model identifier is invalid" in str(caught.value.exceptions[0])  # type: ignore[attr-defined]
    sent = [
        orjson.loads(call.request.content)["inferenceConfig"]["maxTokens"] for call in route.calls
    ]
    assert sent == [4096, 2048, 2048]
