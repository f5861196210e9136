"""A model's base URL may carry a password (``http://user:PASSWORD@host/v1``, sent as HTTP
Basic authorization): the run directory keeps it out of ``search.json`` and every other
file it writes but ``best.json`` (the architecture found, which calls the model where the
search did), and a resumed search still matches its record. ``search.json`` held the
models' URLs whole (found by the new-user test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import orjson

from archon_async import Architecture
from archon_async.search import Search
from archon_async.simulate import SimulatedServer, SimulationSettings
from tests.search._spaces import served_space, write

PASSWORD = "pw-Run-Dir-0815"


def test_a_password_in_a_model_base_url_stays_out_of_the_run_directory(tmp_path: Path) -> None:
    async def go() -> tuple[dict[str, Any], dict[str, Any], int]:
        async with SimulatedServer(SimulationSettings(request_log=1000)) as server:
            url = server.openai_base_url.replace("http://", f"http://bob:{PASSWORD}@")
            models = [
                {"name": n, "model": n, "model_type": "OpenAI_Compatible", "base_url": url}
                for n in ("alpha", "beta")
            ]
            path = write(tmp_path, served_space(models, iterations=2))
            first = await Search(path, run_dir=tmp_path / "run", seed=1).run()
            sent = len(server.request_log())
            again = await Search(path, run_dir=tmp_path / "run", seed=1).run()
            return first, again, len(server.request_log()) - sent

    first, again, sent_again = anyio.run(go)
    assert first["sent"]["calls"] > 0
    assert sent_again == 0 and again["best"] == first["best"]  # resumed, not refused
    written = {
        path.name: path.read_bytes()
        for path in (tmp_path / "run").rglob("*")
        if path.is_file() and path.name != "best.json"
    }
    assert "search.json" in written and "cache.sqlite" in written
    assert [name for name, data in written.items() if PASSWORD.encode() in data] == []
    assert b"bob:***@127.0.0.1" in written["search.json"]
    best = Architecture.from_file(tmp_path / "run" / "best.json")
    assert any(PASSWORD in (spec.base_url or "") for layer in best.layers for spec in layer)
    held = orjson.loads(written["search.json"])
    assert isinstance(held, dict)
