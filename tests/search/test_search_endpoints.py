"""A search on the user's own servers, through real HTTP (no --simulate): a model config of
``models_available`` that names its own ``base_url`` (two llama.cpp servers on two ports,
say) is called there, by the model ranking, every architecture, the judge and baseline and
``best.json``. The base URL used to be dropped: the search then said "give 'base_url' in
this component", which the file did, and named ``<dict>, layers[0][0]`` as the place. A
provider base URL that cannot work is refused before any call, naming the search file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from archon_async import Architecture, ConfigError
from archon_async.search import Search
from archon_async.simulate import SimulatedServer, SimulationSettings
from tests.search._spaces import served_space, write


def _model(tmp_path: Path, name: str, base_url: str) -> str:
    generator = {"type": "generator", "model": name, "model_type": "OpenAI_Compatible"}
    config = {"name": name, "layers": [[{**generator, "base_url": base_url}]]}
    (tmp_path / f"{name}.json").write_bytes(orjson.dumps(config))
    return f"{name}.json"


def _space(models: list[Any], **extension: Any) -> dict[str, Any]:
    return served_space(models, iterations=2, extension=extension)


def test_each_model_is_called_at_its_own_base_url(tmp_path: Path) -> None:
    async def go() -> tuple[dict[str, Any], dict[str, int]]:
        settings = SimulationSettings(request_log=1000)
        async with SimulatedServer(settings) as one, SimulatedServer(settings) as two:
            models = [
                _model(tmp_path, "alpha", one.openai_base_url),
                _model(tmp_path, "beta", two.openai_base_url),
            ]
            path = write(tmp_path, _space(models))
            report = await Search(path, run_dir=tmp_path / "run", seed=1).run()
            seen = {
                "alpha@one": sum(r.model == "alpha" for r in one.request_log()),
                "beta@one": sum(r.model == "beta" for r in one.request_log()),
                "alpha@two": sum(r.model == "alpha" for r in two.request_log()),
                "beta@two": sum(r.model == "beta" for r in two.request_log()),
            }
            return report, seen

    report, seen = anyio.run(go)
    assert report["mode"] == "real" and report["sent"]["calls"] > 0
    assert seen["alpha@one"] > 0 and seen["beta@two"] > 0, seen
    assert seen["beta@one"] == seen["alpha@two"] == 0, seen
    best = Architecture.from_file(tmp_path / "run" / "best.json")
    urls = {spec.model: spec.base_url for layer in best.layers for spec in layer}
    assert urls.get("alpha", urls.get("beta")) is not None, urls


def test_a_provider_base_url_that_cannot_work_is_refused_naming_the_search_file(
    tmp_path: Path,
) -> None:
    models = [{"name": name, "model": name, "model_type": "OpenAI_Compatible"} for name in "ab"]
    providers = {"OpenAI_Compatible": {"base_url": "127.0.0.1:8080"}}
    path = write(tmp_path, _space(models, providers=providers))

    async def go() -> None:
        await Search(path, run_dir=tmp_path / "run").run()

    with pytest.raises(ConfigError) as raised:
        anyio.run(go)
    message = str(raised.value)
    assert message.startswith(f"{path}, models_available[0]: "), message
    assert "'127.0.0.1:8080'" in message and "<dict>" not in message
    assert not (tmp_path / "run" / "leaderboard.jsonl").exists()
