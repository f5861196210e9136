"""Fixtures the search tests share."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from archon_async import ConfigError
from archon_async.search import Search
from tests.search._spaces import Refusal, small_space, write


@pytest.fixture
def keyless_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Refusal:
    """A real search of Together models run with no Together API key (none in the
    environment, no .env in the working directory): the `ConfigError` it raised."""
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in ("TOGETHER_API_KEY", "TOGETHER_API_KEY_2"):
        monkeypatch.delenv(name, raising=False)
    path = write(tmp_path, small_space(evaluations=3))
    run_dir = tmp_path / "run"
    with pytest.raises(ConfigError) as raised:
        anyio.run(Search(path, run_dir=run_dir).run)
    return Refusal(raised.value, path, run_dir)
