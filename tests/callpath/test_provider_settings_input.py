"""Provider settings given in code or in a search file are checked like a config's own
``providers`` section: a model_type no provider serves (a typo) is an error naming it and
the one meant, and a bad value names its field, before any call. A misspelt
``"Togther_API": {"rpm": 60}`` used to be accepted and ignored: the run went on with no
limit at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_async import CallPath, ConfigError, Engine
from archon_async.search import Search
from tests.search._spaces import small_space, write


def test_callpath_refuses_a_model_type_no_provider_serves() -> None:
    with pytest.raises(ConfigError) as raised:
        CallPath(providers={"Togther_API": {"rpm": 60}})
    message = str(raised.value)
    assert "providers.Togther_API" in message
    assert "did you mean 'Together_API'?" in message


def test_engine_refuses_a_model_type_no_provider_serves() -> None:
    with pytest.raises(ConfigError, match=r"providers\.Togther_API: .*'Together_API'"):
        Engine("default", providers={"Togther_API": {"rpm": 60}}, simulate=True)


def test_a_bad_provider_value_names_its_field_without_pydantic_text() -> None:
    with pytest.raises(ConfigError) as raised:
        CallPath(providers={"Together_API": {"rpm": "fast"}})
    message = str(raised.value)
    assert "providers.Together_API.rpm" in message and "'fast'" in message
    assert "pydantic" not in message and "\n" not in message


def test_search_file_providers_typo_is_refused_with_its_place(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(providers={"Togther_API": {"rpm": 60}}))
    with pytest.raises(ConfigError) as raised:
        Search(path, simulate=True)
    message = str(raised.value)
    assert str(path) in message
    assert "archon_async.providers.Togther_API" in message
    assert "did you mean 'Together_API'?" in message


def test_search_file_provider_bad_value_names_its_place(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(providers={"Together_API": {"rpm": "fast"}}))
    with pytest.raises(ConfigError) as raised:
        Search(path, simulate=True)
    message = str(raised.value)
    assert f"{path}, archon_async.providers.Together_API.rpm: " in message
    assert "pydantic" not in message and "\n" not in message
