"""What a search sent, as the provider counts it: report.json's ``sent`` gives the HTTP
requests and their retries beside the calls (samples), so a search through a 429 storm or
5xx can be reconciled with the provider's own count. It gave calls only: a real search that
met 300 429s and 61 500s said 1,840 calls where the server had 2,009 requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from archon_async.search import Search
from archon_async.simulate import SimulatedServer, SimulationSettings
from tests.search._spaces import write


def _space(base_url: str) -> dict[str, Any]:
    models = [
        {"name": name, "model": name, "model_type": "OpenAI_Compatible", "base_url": base_url}
        for name in ("alpha", "beta")
    ]
    return {
        "model_top_k_choices": [1, 2],
        "sample_top_k_choices": [1, 2],
        "fuser_layer_1_choices": [0, 1],
        "maximum_inference_calls": 8,
        "models_available": models,
        "benchmark": "gsm8k",
        "search_algorithm_choice": "random_search",
        "random_search_iterations": 3,
        "number_of_archon_configs_for_final_ranking": 0,
        "archon_async": {
            "dev_questions": 4,
            "held_out_questions": 0,
            "report_questions": 0,
            "racing": {"enabled": False},
            "providers": {"OpenAI_Compatible": {"max_retries": 8}},
        },
    }


def test_report_counts_requests_and_retries_as_the_server_saw_them(tmp_path: Path) -> None:
    async def go() -> tuple[dict[str, Any], list[Any]]:
        faulty = SimulationSettings(fault_rate=0.2, faults=["5xx"], seed=3, request_log=10_000)
        async with SimulatedServer(faulty) as server:
            path = write(tmp_path, _space(server.openai_base_url))
            report = await Search(path, run_dir=tmp_path / "run", seed=1).run()
            return report, server.request_log()

    report, log = anyio.run(go)
    sent = report["sent"]
    failed = sum(1 for r in log if r.status != 200)
    assert failed > 0  # the faults happened, and were retried
    assert sent["requests"] + sent["retries"] == len(log)
    assert sent["retries"] == failed
    assert sent["calls"] == sum(r.n for r in log if r.status == 200)
