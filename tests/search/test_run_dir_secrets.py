"""A model's base URL may carry a password (``http://user:PASSWORD@host/v1``, sent as HTTP
Basic authorization): the run directory keeps it out of ``search.json`` and every other
file it writes, ``best.json`` included (its URL reads ``bob:***@``: an engine refuses to run
it until the password is put back, rather than send ``***``), and a resumed search still
matches its record. ``search.json`` held the models' URLs whole (found by the new-user
test), and ``best.json`` too (found by the next one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from archon_async import Architecture, ConfigError, Engine
from archon_async.search import Search
from archon_async.simulate import SimulatedServer, SimulationSettings
from tests.search._spaces import served_space, write

PASSWORD = "pw-Run-Dir-0815"


def _space_behind_a_password(tmp_path: Path, server: SimulatedServer) -> Path:
    """A search file of two models served at ``server`` through a URL with a password."""
    url = server.openai_base_url.replace("http://", f"http://bob:{PASSWORD}@")
    models = [
        {"name": n, "model": n, "model_type": "OpenAI_Compatible", "base_url": url}
        for n in ("alpha", "beta")
    ]
    return write(tmp_path, served_space(models, iterations=2))


def test_a_password_in_a_model_base_url_stays_out_of_the_run_directory(tmp_path: Path) -> None:
    async def go() -> tuple[dict[str, Any], dict[str, Any], int]:
        async with SimulatedServer(SimulationSettings(request_log=1000)) as server:
            path = _space_behind_a_password(tmp_path, server)
            first = await Search(path, run_dir=tmp_path / "run", seed=1).run()
            sent = len(server.request_log())
            again = await Search(path, run_dir=tmp_path / "run", seed=1).run()
            return first, again, len(server.request_log()) - sent

    first, again, sent_again = anyio.run(go)
    assert first["sent"]["calls"] > 0
    assert sent_again == 0 and again["best"] == first["best"]  # resumed, not refused
    written = {
        path.name: path.read_bytes() for path in (tmp_path / "run").rglob("*") if path.is_file()
    }
    assert {"search.json", "cache.sqlite", "best.json"} <= set(written)
    assert [name for name, data in written.items() if PASSWORD.encode() in data] == []
    assert b"bob:***@127.0.0.1" in written["search.json"]
    assert b"bob:***@127.0.0.1" in written["best.json"]
    held = orjson.loads(written["search.json"])
    assert isinstance(held, dict)


def test_best_json_runs_once_its_masked_password_is_put_back(tmp_path: Path) -> None:
    async def go() -> tuple[str, int, int]:
        async with SimulatedServer(SimulationSettings(request_log=1000)) as server:
            path = _space_behind_a_password(tmp_path, server)
            await Search(path, run_dir=tmp_path / "run", seed=1).run()
            best = tmp_path / "run" / "best.json"
            sent = len(server.request_log())
            with pytest.raises(ConfigError) as refused:
                async with Engine(Architecture.from_file(best)):
                    pass
            refused_sent = len(server.request_log()) - sent
            best.write_text(best.read_text().replace("bob:***@", f"bob:{PASSWORD}@"))
            async with Engine(Architecture.from_file(best)) as engine:
                await engine.generate("What is 2 + 2?")
            return str(refused.value), refused_sent, len(server.request_log()) - sent

    message, refused_sent, sent = anyio.run(go)
    assert refused_sent == 0  # refused before any call
    assert "password is masked as ***" in message and "put the password back" in message
    assert "bob:***@127.0.0.1" in message and PASSWORD not in message
    assert sent > 0
