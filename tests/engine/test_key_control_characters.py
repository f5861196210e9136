"""A key holding a line break (two keys pasted into one variable, a key file read whole) is
refused when the engine opens, before any call, naming its variable and never the key. It
was sent: aiohttp refused the header at send time with a bare ValueError ("Forbidden control
character detected in headers"), a traceback out of `archon-async run` and a batch that
crashed without writing a line (found by the new-user test)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from archon_async import ConfigError, Engine
from tests.cli_process import cli_env, described, run_cli
from tests.local_http import counting_server, serving

SECRET = "sk-Secret-0123456789"


def config(url: str) -> dict[str, Any]:
    spec = {"type": "generator", "model": "m", "model_type": "OpenAI_API", "base_url": url}
    return {"name": "one", "layers": [[spec]]}


@pytest.mark.parametrize(
    ("keys", "named"),
    [
        ([f"{SECRET}\nsk-Other-0123456789"], "OPENAI_API_KEY ("),
        (["sk-Fine-0123456789", f"{SECRET}\r\x00x"], "key 2 of 2 of OPENAI_API_KEY ("),
    ],
)
async def test_a_key_with_a_control_character_is_refused_before_any_call(
    keys: list[str], named: str
) -> None:
    seen: list[str | None] = []
    async with serving(counting_server(seen)) as url:
        engine = Engine(config(url + "/v1"), keys={"OPENAI_API_KEY": keys})
        with pytest.raises(ConfigError) as caught:
            await engine.open()
        await engine.aclose()
    message = str(caught.value)
    assert named in message and "holds a line break" in message
    assert "read from OPENAI_API_KEY in keys={...}" in message
    assert "OPENAI_API_KEY_2" in message  # what to do instead
    assert SECRET not in message and SECRET not in repr(caught.value)
    assert seen == []


async def test_a_key_with_only_outer_whitespace_is_trimmed_and_sent() -> None:
    seen: list[str | None] = []
    async with serving(counting_server(seen)) as url:
        async with Engine(config(url + "/v1"), keys={"OPENAI_API_KEY": [f"{SECRET}\r\n"]}) as e:
            assert (await e.generate("hi")).text == "hello"
    assert seen == [f"Bearer {SECRET}"]


async def test_the_command_says_so_without_a_traceback() -> None:
    seen: list[str | None] = []
    async with serving(counting_server(seen)) as url:
        env = cli_env(OPENAI_API_KEY=f"{SECRET}\nsk-Other-0123456789", OPENAI_BASE_URL=url + "/v1")
        args = ["run", "single_model", "hi", "--model-type", "OpenAI_API", "--model", "m"]
        done = await anyio.to_thread.run_sync(lambda: run_cli(*args, env=env))
    assert done.returncode == 1, described(done)
    assert "holds a line break" in done.stderr and "Traceback" not in done.stderr
    assert SECRET not in done.stderr + done.stdout
    assert seen == []


@pytest.mark.parametrize("inside", [" ", "\t", "\u00a0", "  "])
async def test_a_key_with_whitespace_inside_is_refused_naming_where_it_was_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inside: str
) -> None:
    # A space inside was sent as given ("Bearer sk-... old"): a 401 on every call.
    monkeypatch.chdir(tmp_path)  # no .env
    seen: list[str | None] = []
    key_file = tmp_path / "keys.json"
    key_file.write_text(
        json.dumps({"OPENAI_API_KEY": ["sk-Fine-0123456789", f"{SECRET}{inside}old"]})
    )
    async with serving(counting_server(seen)) as url:
        for origin, keys in [
            ("the environment variable OPENAI_API_KEY", None),
            (f"OPENAI_API_KEY in the key file {key_file}", str(key_file)),
        ]:
            monkeypatch.setenv("OPENAI_API_KEY", f"{SECRET}{inside}x")
            engine = Engine(config(url + "/v1"), keys=keys)
            with pytest.raises(ConfigError) as caught:
                await engine.open()
            await engine.aclose()
            message = str(caught.value)
            assert "holds a space or other whitespace inside" in message, message
            assert f"read from {origin})" in message, message
            assert SECRET not in message and SECRET not in repr(caught.value)
    assert seen == []


async def test_a_key_from_a_dotenv_file_is_named_with_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("dotenv")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY_2", raising=False)
    (tmp_path / ".env").write_text(f'OPENAI_API_KEY_2="{SECRET} old"\n')
    engine = Engine(config("http://127.0.0.1:9/v1"))
    with pytest.raises(ConfigError) as caught:
        await engine.open()
    await engine.aclose()
    assert "read from OPENAI_API_KEY_2 in .env)" in str(caught.value), caught.value
    assert SECRET not in str(caught.value)
