"""``archon-async batch`` against a provider that stays down: the batch stops starting
prompts, writes none of them as failures, and its summary names the provider and the
command that goes on (the same one)."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.cli_process import expect_status, run_cli
from tests.conftest import summary_of
from tests.serve.serve_helpers import simulator


def test_a_batch_stops_on_a_provider_that_stays_down_and_says_how_to_go_on(
    tmp_path: Path,
) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(orjson.dumps({"id": i, "prompt": f"Q{i}?"}).decode() + "\n" for i in range(40))
    )
    out = tmp_path / "answers.jsonl"
    with simulator(models={"m": {"fault_rate": 1.0}}, faults=["5xx"]) as sim:
        config = tmp_path / "down.json"
        generator = {"type": "generator", "model": "m", "model_type": "OpenAI_Compatible"}
        provider = {"base_url": sim.openai_base_url, "max_retries": 0, "circuit_open_s": 0.2}
        config.write_text(
            orjson.dumps(
                {"layers": [[generator]], "providers": {"OpenAI_Compatible": provider}}
            ).decode()
        )
        done = run_cli(
            "batch", str(config), "--input", str(prompts), "--output", str(out),
            "--concurrency", "4", "--provider-down-wait", "1", timeout=180,
        )  # fmt: skip
    expect_status(done, 1)
    summary = summary_of(done)
    assert summary["provider_down"] == "OpenAI_Compatible m", summary
    at = f"the provider of OpenAI_Compatible m at {sim.openai_base_url} is down"
    assert at in summary["stopped"]
    assert summary["not_started"] == 40 and summary["failed"] == 0
    assert summary["resume"].endswith("--provider-down-wait 1"), summary["resume"]
    assert not out.exists() or out.read_bytes().strip() == b""
