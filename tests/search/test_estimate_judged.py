"""--estimate on a judged benchmark, against what a search over real HTTP sends. MT-Bench
questions have two turns (each a whole run of the architecture) and are rated one judge
call each, with no baseline: the estimate counted one turn, two judge calls and a baseline,
and expected 230 calls (high 310) where a search sent 340."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from archon_async.search import Search
from archon_async.simulate import SimulatedServer
from tests.search._spaces import write


def _space(base_url: str) -> dict[str, Any]:
    def model(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "model": name,
            "model_type": "OpenAI_Compatible",
            "base_url": base_url,
        }

    return {
        "model_top_k_choices": [1, 2],
        "sample_top_k_choices": [1, 2],
        "fuser_layer_1_choices": [0, 1],
        "maximum_inference_calls": 8,
        "models_available": [model("alpha"), model("beta")],
        "judge_model": model("judge"),
        "baseline_model": model("alpha"),
        "benchmark": "mt_bench",
        "search_algorithm_choice": "random_search",
        "random_search_iterations": 3,
        "number_of_archon_configs_for_final_ranking": 0,
        "archon_async": {
            "dev_questions": 6,
            "held_out_questions": 0,
            "report_questions": 0,
            "racing": {"enabled": False},
        },
    }


def test_the_estimate_counts_mt_bench_turns_and_its_single_ratings(tmp_path: Path) -> None:
    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        async with SimulatedServer() as server:
            path = write(tmp_path, _space(server.openai_base_url))
            search = Search(path, run_dir=tmp_path / "run", seed=1)
            estimate = search.estimate()
            return estimate, await Search(path, run_dir=tmp_path / "run", seed=1).run()

    estimate, report = anyio.run(go)
    sent = report["sent"]["calls"]
    assert sent > 0
    assert estimate["calls"]["low"] <= sent <= estimate["calls"]["high"], (estimate, sent)
    assert abs(estimate["calls"]["expected"] - sent) <= 0.2 * sent, (estimate, sent)
