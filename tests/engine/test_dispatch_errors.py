"""How the HTTP adapter base maps refusals for the dispatcher: 403s, and redacted bodies."""

from __future__ import annotations

import httpx
import orjson
import pytest

from archon_async import ProviderSettings
from archon_async._exceptions import AuthenticationError, BadRequestError, ProviderStatusError
from archon_async.providers.openai_chat import OpenAIChatProvider
from tests.providers.helpers import SECRET, chat_request


async def fail_with(status: int, body: str | bytes) -> ProviderStatusError:
    """The error the OpenAI adapter raises for a reply of ``status`` with ``body``."""
    content = body.encode() if isinstance(body, str) else body

    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content)

    provider = OpenAIChatProvider(
        "OpenAI_API", ProviderSettings(), transport=httpx.MockTransport(reply)
    )
    try:
        with pytest.raises(ProviderStatusError) as caught:
            await provider.send(chat_request("OpenAI_API"), api_key=SECRET)
    finally:
        await provider.aclose()
    return caught.value


async def test_a_403_about_model_access_is_not_a_refused_key() -> None:
    message = "Project `proj_abc` does not have access to model `gpt-9`"
    error = await fail_with(403, f'{{"error": {{"message": "{message} ({SECRET})"}}}}')
    assert type(error) is BadRequestError and error.status_code == 403
    assert message in str(error)  # the provider's own words reach the user
    assert SECRET not in str(error) and SECRET not in (error.body or "")
    assert "[redacted]" in (error.body or "")


@pytest.mark.parametrize(
    "error_object",
    [
        {"message": f"Incorrect API key provided: {SECRET}"},
        {"message": "Your API key was reported as leaked. Please use another API key."},
        {"message": "The security token included in the request is invalid."},
        {"message": "This API key has been revoked"},
        {"code": "invalid_api_key", "message": "denied"},
    ],
)
async def test_a_403_that_says_the_key_is_bad_is_a_refused_key(
    error_object: dict[str, str],
) -> None:
    error = await fail_with(403, orjson.dumps({"error": error_object}))
    assert type(error) is AuthenticationError
    assert error.body is None and SECRET not in str(error)


async def test_401_stays_a_refused_key() -> None:
    error = await fail_with(401, '{"error": {"message": "who are you?"}}')
    assert type(error) is AuthenticationError


async def test_a_key_straddling_the_body_limit_is_redacted_before_the_cut() -> None:
    # The body is cut at 2000 characters: the key starts 10 characters before the cut.
    body = "x" * 1990 + SECRET + "y" * 100
    error = await fail_with(400, body)
    assert SECRET[:10] not in (error.body or "")
    assert SECRET[:10] not in str(error)
