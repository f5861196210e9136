"""An algorithm the search cannot run is refused when the search is made, before the model
ranking spends a call or the run directory is written (it would then hold that search)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from archon_async import ConfigError
from archon_async.search import Search
from tests.search._spaces import small_space, write


def test_an_unknown_algorithm_is_refused_before_any_call(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(evaluations=3))
    with pytest.raises(ConfigError, match="unknown search algorithm 'bogus'; choose one of"):
        Search(path, simulate=True, algorithm="bogus", run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_gaussian_process_without_torch_is_refused_before_any_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    find_spec = importlib.util.find_spec

    def without_torch(name: str, *args: Any) -> Any:
        return None if name == "torch" else find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_torch)
    path = write(tmp_path, small_space(evaluations=3))
    with pytest.raises(ConfigError, match="needs torch and scipy"):
        Search(path, simulate=True, algorithm="gaussian_process", run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
