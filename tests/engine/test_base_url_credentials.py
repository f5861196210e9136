"""A base URL may carry a user name and password (``http://user:PASSWORD@host/v1``, sent as
HTTP Basic auth): the password is a secret, so it never appears in an error, a repr or an
architecture's source; and where the provider also has a key for the same Authorization
header, the engine refuses at open, before any call, instead of failing every call with
aiohttp's "Cannot combine AUTHORIZATION header with ... credentials encoded in URL" (found
by the new-user test: a traceback from ``OPENAI_BASE_URL=http://u:pw@host/v1`` with
``OPENAI_API_KEY`` set)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from aiohttp import web

from archon_async import Architecture, ConfigError, Engine, LayerFailedGroup
from tests.cli_process import cli_env, run_cli
from tests.local_http import counting_server, serving

PASSWORD = "pw-Secret-4711"


def config(**component: Any) -> dict[str, Any]:
    spec = {"type": "generator", "model": "m", "model_type": "OpenAI_Compatible", **component}
    return {"name": "one", "layers": [[spec]]}


async def test_a_url_with_a_password_and_a_key_is_refused_at_open() -> None:
    seen: list[str | None] = []
    async with serving(counting_server(seen)) as url:
        with_password = url.replace("http://", f"http://bob:{PASSWORD}@") + "/v1"
        keys = {"OPENAI_COMPATIBLE_API_KEY": ["sk-local-0123456789"]}
        engine = Engine(config(base_url=with_password), keys=keys)
        with pytest.raises(ConfigError) as caught:
            await engine.open()
        await engine.aclose()
    message = str(caught.value)
    assert PASSWORD not in message and PASSWORD not in repr(caught.value)
    assert "http://bob:***@127.0.0.1" in message
    assert "OPENAI_COMPATIBLE_API_KEY" in message
    assert caught.value.location == "layers[0][0]"
    assert seen == []  # before any call


async def test_a_url_with_a_password_and_no_key_sends_basic_auth() -> None:
    seen: list[str | None] = []
    async with serving(counting_server(seen)) as url:
        with_password = url.replace("http://", f"http://bob:{PASSWORD}@") + "/v1"
        async with Engine(config(base_url=with_password), keys={}) as engine:
            result = await engine.generate("hi")
            assert PASSWORD not in repr(engine)
    assert result.text == "hello"
    assert seen == ["Basic " + base64.b64encode(f"bob:{PASSWORD}".encode()).decode()]


@pytest.mark.parametrize(
    "url",
    [f"http://bob:{PASSWORD}@127.0.0.1:99999/v1", f"http://bob:{PASSWORD}@/v1"],
)
async def test_a_bad_url_with_a_password_is_named_without_it(url: str) -> None:
    engine = Engine(config(base_url=url), keys={})
    with pytest.raises(ConfigError) as caught:
        await engine.open()
    await engine.aclose()
    assert PASSWORD not in str(caught.value)
    assert "bob:***@" in str(caught.value)


def test_overrides_keep_the_password_out_of_the_source_and_repr() -> None:
    url = f"http://bob:{PASSWORD}@127.0.0.1:8080/v1"
    architecture = Architecture.from_name("default").with_overrides(base_url=url, model="m")
    assert PASSWORD not in architecture.source
    assert PASSWORD not in repr(architecture)
    assert PASSWORD not in repr(Engine(architecture))
    assert "base_url=http://bob:***@127.0.0.1:8080/v1" in architecture.source
    assert architecture.layers[0][0].base_url == url  # still called with it
    with pytest.raises(ConfigError) as caught:
        Architecture.from_name("default").with_overrides(
            base_url=f"ftp://bob:{PASSWORD}@host/v1", model="m"
        )
    assert PASSWORD not in str(caught.value)


def test_cli_run_with_a_password_in_the_base_url_and_a_key() -> None:
    done = run_cli(
        "run", "default", "hi", "--model-type", "OpenAI_API", "--model", "gpt-4o-mini",
        env={**cli_env(without_keys=True), "OPENAI_API_KEY": "sk-test-0123456789abcdef",
             "OPENAI_BASE_URL": f"http://bob:{PASSWORD}@127.0.0.1:9/v1"},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    assert "OPENAI_API_KEY" in done.stderr and "OPENAI_BASE_URL" in done.stderr


def echoing_server(status: int) -> web.Application:
    """A server (a gateway, a proxy) whose errors quote what it was sent: the Authorization
    header (Basic: the user name and password in base64) and the URL's password."""

    async def chat(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        credentials = base64.b64decode(header.removeprefix("Basic ")).decode()
        message = f"bad request; Authorization: {header}; user info {credentials}"
        return web.json_response({"error": {"message": message}}, status=status)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


@pytest.mark.parametrize("status", [400, 502])
async def test_an_error_that_echoes_the_basic_credentials_is_redacted(status: int) -> None:
    # Found by the new-user test (issue 12's secrets): a key echoed in an error body was
    # redacted, the base URL's password sent as Basic auth was not: an error quoting the
    # Authorization header printed 'Basic Ym9i...' (the password, base64) on every log line.
    encoded = base64.b64encode(f"bob:{PASSWORD}".encode()).decode()
    async with serving(echoing_server(status)) as url:
        with_password = url.replace("http://", f"http://bob:{PASSWORD}@") + "/v1"
        settings = {"providers": {"OpenAI_Compatible": {"max_retries": 0}}}
        async with Engine(config(base_url=with_password) | settings, keys={}) as engine:
            with pytest.raises(LayerFailedGroup) as caught:
                await engine.generate("hi")
    [error] = caught.value.exceptions
    text = f"{error} {getattr(error, 'body', '')} {caught.value} {error!r}"
    assert "bad request; Authorization:" in text  # the provider's message, redacted
    assert encoded not in text and encoded[:12] not in text
    assert PASSWORD not in text


def _load_error(source: dict[str, Any], **engine: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        Engine(Architecture.from_dict(source), **engine)
    return str(caught.value)


def test_a_url_of_the_wrong_type_is_refused_without_its_password() -> None:
    """A URL given where a setting of another type is meant is quoted back in the error
    ("got ...") with its password masked (found by this stop's attacker: the config
    loader's and the providers section's type errors quoted it whole)."""
    url = f"http://bob:{PASSWORD}@127.0.0.1:8000/v1"
    messages = {
        "component": _load_error(config(base_url=[url])),
        "providers section": _load_error({**config(), "providers": {"OpenAI_Compatible": url}}),
        "providers section's setting": _load_error(
            {**config(), "providers": {"OpenAI_Compatible": {"base_url": url, "rpm": [url]}}}
        ),
        "Engine(providers=)": _load_error(config(), providers={"OpenAI_Compatible": url}),
        "Engine(providers=)'s setting": _load_error(
            config(), providers={"OpenAI_Compatible": {"rpm": url}}
        ),
    }
    for where, message in messages.items():
        assert PASSWORD not in message, where
        assert "http://bob:***@127.0.0.1:8000/v1" in message, (where, message)
