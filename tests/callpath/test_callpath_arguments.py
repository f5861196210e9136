"""Arguments of the wrong kind given to a call path or to an engine on one are refused
with what to pass (found by this stop's attacker, issue 12, as a user from Python):
``Engine(callpath="runs.sqlite")`` (a cache file meant) failed with AttributeError "'str'
object has no attribute 'budget'", and ``providers=[...]`` (a list, not a dict keyed by
model_type) with AttributeError "'list' object has no attribute 'items'"."""

from __future__ import annotations

from typing import Any

import pytest

from archon_async import CallPath, ConfigError, Engine


@pytest.mark.parametrize("callpath", ["runs.sqlite", {"cache": "runs.sqlite"}])
def test_an_engine_given_no_call_path_as_callpath(callpath: Any) -> None:
    with pytest.raises(ConfigError, match=r"Engine\(callpath=...\) takes a CallPath, not"):
        Engine("single_model", callpath=callpath)


@pytest.mark.parametrize("build", [CallPath, Engine])
def test_providers_that_are_not_keyed_by_model_type(build: Any) -> None:
    args = ("single_model",) if build is Engine else ()
    with pytest.raises(ConfigError, match="providers must be an object keyed by model_type"):
        build(*args, providers=[{"Together_API": {"rpm": 600}}], simulate=True)
