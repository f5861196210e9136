"""Key pools: Archon's three forms, rotation, cooldown, exhaustion, and secrecy."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import SecretStr

from archon_async import _keys as keys_module
from archon_async._exceptions import ConfigError, KeyPoolExhaustedError
from archon_async._keys import KeyPool, env_prefix, fingerprint, load_key_sets
from tests.providers.helpers import FakeClock

SECRETS = ["sk-alpha-SECRET-1", "sk-beta-SECRET-2", "sk-gamma-SECRET-3"]


def pool(keys: list[str], clock: FakeClock | None = None, *, required: bool = False) -> KeyPool:
    clock = clock or FakeClock()
    secrets = [SecretStr(key) for key in keys]
    return KeyPool(
        "OpenAI_API",
        secrets,
        env_var="OPENAI_API_KEY",
        required=required,
        clock=clock,
        sleep=clock.sleep,
    )


def values(key_sets: dict[str, list[SecretStr]], name: str) -> list[str]:
    return [key.get_secret_value() for key in key_sets.get(name, [])]


def test_environment_form_with_numbered_keys_in_order() -> None:
    environ = {
        "OPENAI_API_KEY_3": SECRETS[2],
        "OPENAI_API_KEY": SECRETS[0],
        "OPENAI_API_KEY_2": SECRETS[1],
        "TOGETHER_API_KEY": "tk",
        "PATH": "/bin",
    }
    sets = load_key_sets(None, environ=environ, dotenv_path=None)
    assert values(sets, "OPENAI_API_KEY") == SECRETS
    assert values(sets, "TOGETHER_API_KEY") == ["tk"]


def test_dotenv_file_is_read_without_touching_the_environment(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"ANTHROPIC_API_KEY={SECRETS[0]}\nOPENAI_API_KEY=from-file\n")
    before = dict(os.environ)
    sets = load_key_sets(None, environ={"OPENAI_API_KEY": SECRETS[1]}, dotenv_path=dotenv)
    assert values(sets, "ANTHROPIC_API_KEY") == [SECRETS[0]]
    assert values(sets, "OPENAI_API_KEY") == [SECRETS[1]]  # the process environment wins
    assert dict(os.environ) == before


def test_json_file_and_dict_forms(tmp_path: Path) -> None:
    path = tmp_path / "api_keys.json"
    path.write_bytes(orjson.dumps({"OPENAI_API_KEY": SECRETS[:2], "GROQ_API_KEY": "g"}))
    environ = {"ANTHROPIC_API_KEY": "from-env", "OPENAI_API_KEY": "ignored"}
    from_file = load_key_sets(str(path), environ=environ, dotenv_path=None)
    assert values(from_file, "OPENAI_API_KEY") == SECRETS[:2]
    assert values(from_file, "GROQ_API_KEY") == ["g"]
    assert values(from_file, "ANTHROPIC_API_KEY") == ["from-env"]  # not in the file: environment
    from_dict = load_key_sets({"OPENAI_API_KEY": SECRETS}, environ={}, dotenv_path=None)
    assert values(from_dict, "OPENAI_API_KEY") == SECRETS


def test_bad_key_files_name_the_file_not_the_keys(tmp_path: Path) -> None:
    broken = tmp_path / "keys.json"
    broken.write_bytes(orjson.dumps({"OPENAI_API_KEY": [SECRETS[0]]})[:-2])
    with pytest.raises(ConfigError, match="not valid JSON") as caught:
        load_key_sets(broken, environ={}, dotenv_path=None)
    assert SECRETS[0] not in str(caught.value) and "keys.json" in str(caught.value)
    with pytest.raises(ConfigError, match="does not exist"):
        load_key_sets(tmp_path / "missing.json", environ={}, dotenv_path=None)
    with pytest.raises(ConfigError, match="not a list of strings"):
        load_key_sets({"OPENAI_API_KEY": 5}, environ={}, dotenv_path=None)
    with pytest.raises(ConfigError, match="not a string"):
        load_key_sets({"OPENAI_API_KEY": [SECRETS[0], 3]}, environ={}, dotenv_path=None)


def test_pool_for_provider_collects_all_prefixes() -> None:
    sets = load_key_sets(
        {"GOOGLE_API_KEY": ["g1"], "GEMINI_API_KEY": ["g2", "g1"]}, environ={}, dotenv_path=None
    )
    google = KeyPool.for_provider("Google_API", sets)
    assert len(google) == 2 and google.env_var == "GOOGLE_API_KEY" and google.required
    assert env_prefix("My_Custom_API") == ("MY_CUSTOM",)
    assert not KeyPool.for_provider("vLLM", sets).required


async def test_rotation_is_round_robin() -> None:
    keys = pool(SECRETS)
    leases = [await keys.acquire() for _ in range(4)]
    assert [lease.value() for lease in leases] == [*SECRETS, SECRETS[0]]
    assert leases[0].key_id == fingerprint(SECRETS[0])


async def test_cooling_key_is_skipped_then_waited_for() -> None:
    clock = FakeClock()
    keys = pool(SECRETS[:2], clock)
    first = await keys.acquire()
    keys.cool_down(first.key_id, 5.0)
    assert (await keys.acquire()).value() == SECRETS[1]
    keys.cool_down(fingerprint(SECRETS[1]), 8.0)
    assert keys.statistics().cooling == 2
    lease = await keys.acquire()  # both cooling: wait for the earliest
    assert lease.value() == SECRETS[0] and clock.sleeps == [5.0]


async def test_cooldown_without_retry_after_backs_off_and_resets() -> None:
    keys = pool(SECRETS[:1])
    key_id = fingerprint(SECRETS[0])
    assert [keys.cool_down(key_id, None) for _ in range(3)] == [1.0, 2.0, 4.0]
    keys.succeeded(key_id)
    assert keys.cool_down(key_id, None) == 1.0


async def test_all_disabled_raises_exhausted_naming_the_variable() -> None:
    keys = pool(SECRETS[:2])
    for secret in SECRETS[:2]:
        keys.disable(fingerprint(secret))
    with pytest.raises(KeyPoolExhaustedError) as caught:
        await keys.acquire()
    message = str(caught.value)
    assert "OPENAI_API_KEY" in message and "OpenAI_API" in message and "refused" in message
    assert not any(secret in message for secret in SECRETS)


async def test_empty_pool_required_or_not() -> None:
    with pytest.raises(KeyPoolExhaustedError, match="no key is given"):
        await pool([], required=True).acquire()
    lease = await pool([]).acquire()
    assert lease.key_id is None and lease.value() is None


def test_reprs_show_counts_and_fingerprints_only() -> None:
    keys = pool(SECRETS)
    text = repr(keys) + repr(keys.statistics()) + repr(keys.acquire_nowait())
    assert not any(secret in text for secret in SECRETS)
    assert fingerprint(SECRETS[0]) in text and "keys=3" in text
    sets = load_key_sets({"OPENAI_API_KEY": SECRETS}, environ={}, dotenv_path=None)
    assert not any(secret in repr(sets) for secret in SECRETS)


def test_aws_bedrock_api_key_variable_is_a_bedrock_key() -> None:
    environ = {"AWS_BEARER_TOKEN_BEDROCK": SECRETS[0], "BEDROCK_API_KEY": SECRETS[1]}
    sets = load_key_sets(None, environ=environ, dotenv_path=None)
    bedrock = KeyPool.for_provider("Bedrock_API", sets)
    assert len(bedrock) == 2 and not bedrock.required
    assert bedrock.statistics().key_ids == (fingerprint(SECRETS[1]), fingerprint(SECRETS[0]))
    only_aws = load_key_sets(None, environ={"AWS_BEARER_TOKEN_BEDROCK": "t"}, dotenv_path=None)
    assert len(KeyPool.for_provider("Bedrock_API", only_aws)) == 1


def test_dotenv_lines_that_cannot_be_read_are_named_not_quoted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A .env line python-dotenv cannot parse was said by its own logger as 'could not parse
    statement starting at line 2' (no file), and the engine then said no key was given 'in
    a .env file'; a .env that is not UTF-8 was a UnicodeDecodeError traceback."""
    said: list[tuple[str, dict[str, Any]]] = []

    class Log:  # the module's logger, recorded (the CLI's tests may have stopped propagation)
        def warning(self, event: str, **fields: Any) -> None:
            said.append((event, fields))

    monkeypatch.setattr(keys_module, "log", Log())
    dotenv = tmp_path / ".env"
    dotenv.write_text(f'A=1\nOPENAI_API_KEY {SECRETS[0]}\nB="{SECRETS[1]}\nC=3\n')
    with caplog.at_level(logging.WARNING, logger="dotenv"):
        sets = load_key_sets(None, environ={}, dotenv_path=dotenv)
    assert "OPENAI_API_KEY" not in sets
    [(event, fields)] = said
    assert event == "dotenv_lines_unread"
    assert fields["path"] == str(dotenv) and fields["lines"] == [2, 3]
    assert "NAME=value" in fields["fix"]
    assert not any(secret in repr(said) for secret in SECRETS)
    # python-dotenv is not given the lines it would warn of (a line number, no file).
    assert not [record for record in caplog.records if record.name.startswith("dotenv")]
    dotenv.write_bytes(b"A=1\nOPENAI_API_KEY=sk-\xff" + SECRETS[0].encode() + b"\n")
    with pytest.raises(ConfigError, match=r"\.env, line 2: the file is not UTF-8") as caught:
        load_key_sets(None, environ={}, dotenv_path=dotenv)
    assert SECRETS[0] not in str(caught.value)
