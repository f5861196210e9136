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
from tests.search._spaces import served_models, served_space, write


def _space(base_url: str) -> dict[str, Any]:
    return served_space(
        served_models(base_url),
        iterations=3,
        dev=4,
        sample_top_k_choices=[1, 2],
        maximum_inference_calls=8,
        extension={"providers": {"OpenAI_Compatible": {"max_retries": 8}}},
    )


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
