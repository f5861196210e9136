"""Gemini's refusals of ``candidateCount`` > 1 in the API's own words (as users reported
them): "Multiple candidates is not enabled for this model" (Gemini 3 models,
googleapis/js-genai#1609), "Only one candidate can be specified" (gemini-pro,
google-gemini/deprecated-generative-ai-dart#34), Vertex AI's "candidateCount must be 1"
(genkit-ai/genkit#546). The first two were not read as refusals of ``n``: a component of
several samples on such a model failed instead of drawing one a request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from archon_async import BadRequestError, Engine
from archon_async.callpath._samples import refuses_n
from tests.local_http import serving

_NOT_ENABLED = "Multiple candidates is not enabled for this model"


@pytest.mark.parametrize(
    "message",
    [
        _NOT_ENABLED,
        "Only one candidate can be specified",
        "Unable to submit request because candidateCount must be 1 but the entered value "
        "was 3. Update the candidateCount value and try again.",
    ],
)
def test_each_gemini_wording_is_a_refusal_of_n(message: str) -> None:
    assert refuses_n(BadRequestError(message, status_code=400))


def test_other_gemini_bad_requests_are_not() -> None:
    refused = "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"hot\""
    assert not refuses_n(BadRequestError(refused, status_code=400))
    blocked = "The candidate was blocked for safety reasons"
    assert not refuses_n(BadRequestError(blocked, status_code=400))


@asynccontextmanager
async def gemini() -> AsyncIterator[tuple[str, list[int]]]:
    """A generateContent server on 127.0.0.1 refusing candidateCount > 1 as Gemini 3 does;
    yields its base URL and the candidateCount of every request."""
    asked: list[int] = []

    async def generate(request: web.Request) -> web.Response:
        body = await request.json()
        count = int(body.get("generationConfig", {}).get("candidateCount") or 1)
        asked.append(count)
        if count > 1:
            error = {"code": 400, "message": _NOT_ENABLED, "status": "INVALID_ARGUMENT"}
            return web.json_response({"error": error}, status=400)
        candidate = {"content": {"parts": [{"text": f"answer {len(asked)}"}], "role": "model"},
                     "finishReason": "STOP", "index": 0}  # fmt: skip
        usage = {"promptTokenCount": 7, "candidatesTokenCount": 3, "totalTokenCount": 10}
        return web.json_response({"candidates": [candidate], "usageMetadata": usage})

    app = web.Application()
    app.router.add_post("/v1beta/models/{model}", generate)
    async with serving(app) as url:
        yield url, asked


async def test_a_gemini_model_without_multiple_candidates_draws_one_a_request() -> None:
    spec = {"type": "generator", "model": "gemini-3-flash", "model_type": "Google_API",
            "max_tokens": 32, "samples": 4}  # fmt: skip
    async with gemini() as (url, asked):
        config = {"layers": [[spec]], "providers": {"Google_API": {"base_url": url}}}
        async with Engine(config, keys={"GOOGLE_API_KEY": ["test-key-0123456789"]}) as engine:
            result = await engine.generate("q")
            await engine.generate("another q")
    assert len(result.candidates) == 4
    assert asked == [4, *[1] * 4, *[1] * 4]  # refused once, then remembered
