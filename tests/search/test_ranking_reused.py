"""The model ranking's answers are reused by the architectures (issue 13: "its calls are
reused by the search through the cache"), whatever temperature and max_tokens the search
file sets: the ranking asked with the component defaults (0.7, 2048), the architectures
with the file's, so a file setting ``max_tokens`` paid every ranking answer twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from archon_async.search import Search
from archon_async.simulate import SimulatedServer
from tests.search._spaces import served_models, served_space, write


def _space(base_url: str, **extension: Any) -> dict[str, Any]:
    return served_space(
        served_models(base_url),
        iterations=1,
        model_top_k_choices=[1],
        fuser_layer_1_choices=[0],
        maximum_inference_calls=4,
        extension=extension,
    )


@pytest.mark.parametrize("settings", [{}, {"max_tokens": 300, "temperature": 0.2}])
def test_the_architectures_reuse_the_model_rankings_answers(
    tmp_path: Path, settings: dict[str, Any]
) -> None:
    async def go() -> dict[str, Any]:
        async with SimulatedServer() as server:
            path = write(tmp_path, _space(server.openai_base_url, **settings))
            return await Search(path, run_dir=tmp_path / "run", seed=1).run()

    report = anyio.run(go)
    # The ranking: 2 models x 3 questions. The one architecture (the first model, then the
    # final fuser): its generator's 3 answers are the ranking's, its 3 fusions are new.
    assert report["sent"]["calls"] == 6 + 3, report["sent"]
    assert report["sent"]["cache_hits"] == 3
