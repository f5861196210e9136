"""A whole number beyond 64 bits in a configuration (an architecture's or a search
file's) is refused at load naming the place (found by this stop's attacker): no setting
holds one, and the engine failed on it later with orjson's "Integer exceeds 64-bit range"
traceback (an architecture's max_tokens at `run`; a search's maximum_inference_calls as
its space was built)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from archon_async import Architecture, ConfigError, ConfigWarning
from archon_async.search import Search, search_file_from_dict
from tests.search._spaces import small_space

HUGE = 10**35


def generator(**settings: Any) -> dict[str, Any]:
    spec = {"type": "generator", "model": "m", "model_type": "OpenAI_Compatible"}
    return {"name": "one", "layers": [[spec | settings]]}


def test_an_architecture_with_a_huge_number_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(generator(max_tokens=HUGE)))
    for load in (lambda: Architecture.from_file(path), lambda: Architecture.from_dict(
        generator(max_tokens=-HUGE))):  # fmt: skip
        with pytest.raises(ConfigError, match=r"layers\[0\]\[0\]\.max_tokens: -?1000"):
            load()
    with pytest.warns(ConfigWarning, match="far more than any model writes"):
        assert Architecture.from_dict(generator(max_tokens=2**63 - 1)).name == "one"


def test_a_search_file_with_a_huge_number_is_refused(tmp_path: Path) -> None:
    space = small_space(evaluations=3) | {"maximum_inference_calls": HUGE}
    path = tmp_path / "space.json"
    path.write_text(json.dumps(space))
    said = f"maximum_inference_calls: {HUGE} is beyond any setting"
    with pytest.raises(ConfigError, match=said):
        Search(path, simulate=True, oracle=True, run_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match=said):
        search_file_from_dict(space)
