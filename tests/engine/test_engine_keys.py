"""The engine and keys: missing keys fail at open; failed calls are in the trace."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from archon_async import (
    Architecture,
    ChatRequest,
    ConfigError,
    Engine,
    ProviderServerError,
    Registry,
)
from archon_async._context import CallContext
from archon_async._trace import ComponentTrace
from archon_async._types import CallRecord, ChatResponse
from tests.conftest import FakeProvider, fake_registry


def generator(model_type: str, model: str = "m") -> dict[str, Any]:
    return {"type": "generator", "model": model, "model_type": model_type, "max_tokens": 8}


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No key variable in the environment, and no .env file in the working directory."""
    for name in list(os.environ):
        if "_API_KEY" in name or name.startswith("AWS_BEARER_TOKEN"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("no_keys")
async def test_a_hosted_provider_without_a_key_fails_at_open() -> None:
    provider = FakeProvider(lambda request: "never")
    registry = fake_registry(provider).add_provider("Together_API", lambda name, s: provider)
    config = {"layers": [[generator("Fake_API"), generator("Together_API")]]}
    engine = Engine(Architecture.from_dict(config, registry=registry))
    with pytest.raises(ConfigError) as caught:
        async with engine:
            pass
    message = str(caught.value)
    assert "Together_API" in message and "TOGETHER_API_KEY" in message
    assert "keys=" in message and ".env" in message and "JSON" in message
    assert provider.requests == [] and not engine.is_open


@pytest.mark.usefixtures("no_keys")
async def test_google_names_both_of_its_variables() -> None:
    registry = fake_registry(FakeProvider(lambda request: "x"), "Google_API")
    config = {"layers": [[generator("Google_API")]]}
    with pytest.raises(ConfigError, match=r"GOOGLE_API_KEY.*GEMINI_API_KEY"):
        await Engine(Architecture.from_dict(config, registry=registry)).open()


@pytest.mark.usefixtures("no_keys")
async def test_self_hosted_custom_and_simulated_providers_need_no_key() -> None:
    async def custom(request: ChatRequest) -> str:
        return "custom"

    provider = FakeProvider(lambda request: "served")
    registry = fake_registry(provider, "vLLM").add_generator("My_Model", custom)
    config = {"layers": [[generator("vLLM"), generator("My_Model")]]}
    async with Engine(Architecture.from_dict(config, registry=registry)) as engine:
        assert engine.is_open
    hosted = Architecture.from_dict({"layers": [[generator("OpenAI_API")]]})
    async with Engine(hosted, simulate="http://127.0.0.1:9") as engine:
        assert engine.is_open  # simulated: no key needed, and no call made
    given = Engine(hosted, keys={"OPENAI_API_KEY": ["sk-given"]})
    await given.open()
    await given.aclose()


async def test_a_failed_call_is_in_the_trace_with_its_error() -> None:
    async def reply(request: ChatRequest) -> str:
        if request.model == "bad":
            raise ProviderServerError("down", status_code=503)
        return "ok"

    provider = FakeProvider(reply)
    registry = fake_registry(provider)
    config = {"layers": [[generator("Fake_API"), generator("Fake_API", "bad")]]}
    architecture = Architecture.from_dict(config, registry=registry)
    providers = {"Fake_API": {"max_retries": 0}}  # no backoff: nothing sleeps for real
    async with Engine(architecture, providers=providers) as engine:
        result = await engine.generate("q")
    failed = result.trace.layers[0].components[1].calls
    assert len(failed) == 1 and failed[0].error and "503" in failed[0].error
    assert failed[0].model == "bad" and failed[0].retries == 0
    totals = result.trace.totals()
    assert totals["calls"] == 2 and totals["failed_calls"] == 1


async def test_call_context_records_the_failed_call_of_the_dispatcher() -> None:
    record = CallRecord("m", "Fake_API", 0.5, 0, 0, retries=3, key_id="key-1", error="boom")

    class Failing:
        async def complete(self, request: ChatRequest) -> tuple[ChatResponse, CallRecord]:
            error = ProviderServerError("boom", status_code=500)
            error.call_record = record
            raise error

        def charge(self, record: CallRecord) -> None:
            charged.append(record)

    charged: list[CallRecord] = []
    trace = ComponentTrace(index=0, type="generator", model="m", model_type="Fake_API")
    architecture = Architecture.from_dict({"layers": [[generator("Fake_API")]]}, registry=_reg())
    context = CallContext(
        spec=architecture.layers[0][0],
        conversation=[{"role": "user", "content": "q"}],
        completer=Failing(),
        trace=trace,
        seed="s",
        scorers={},
    )
    with pytest.raises(ProviderServerError):
        await context.complete([{"role": "user", "content": "q"}])
    assert trace.calls == [record]
    assert charged == [record]  # the run's budget is charged for it too


def _reg() -> Registry:
    return fake_registry(FakeProvider(lambda request: "x"))


async def test_keys_given_as_a_dict_are_hidden_from_the_moment_the_engine_holds_them() -> None:
    secret = "sk-live-0123456789abcdef"
    provider = FakeProvider(lambda request: "ok")
    architecture = Architecture.from_dict(
        {"layers": [[generator("Fake_API")]]}, registry=fake_registry(provider)
    )
    engine = Engine(architecture, keys={"FAKE_API_KEY": [secret], "OTHER_API_KEY": secret})
    # Before it opens: nothing an inspector, a debugger or a traceback shows holds the key.
    assert secret not in repr(vars(engine)) and secret not in repr(engine)
    async with engine:
        result = await engine.generate("q")
        assert secret not in repr(vars(engine))
    # ...and the key still reached the provider's calls.
    (call,) = result.trace.calls()
    assert call.key_id is not None and secret not in call.key_id


def test_a_dotenv_file_that_cannot_be_read_is_said(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import builtins

    from structlog.testing import capture_logs

    from archon_async._keys import load_key_sets

    dotenv = tmp_path / ".env"
    dotenv.write_text("OPENAI_API_KEY=sk-in-a-file\n")
    real_import = builtins.__import__

    def no_dotenv(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "dotenv":
            raise ImportError("python-dotenv is not installed")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dotenv)
    with capture_logs() as logs:
        sets = load_key_sets(None, environ={}, dotenv_path=dotenv)
    assert "OPENAI_API_KEY" not in sets
    (entry,) = [entry for entry in logs if entry["event"] == "dotenv_not_read"]
    assert "archon-async[dotenv]" in entry["fix"] and "sk-in-a-file" not in repr(entry)
