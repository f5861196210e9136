"""``--estimate``'s range holds what a run spends: a batch of the default architecture on
the simulated provider (served on 127.0.0.1) uses tokens within [low, high], and its calls
and requests are the ones foreseen."""

from __future__ import annotations

from pathlib import Path

import orjson

from archon_async import Architecture
from archon_async._defaults import DEFAULT_ARCHITECTURE
from archon_async.callpath._estimate import CENTRAL_REPLY_TOKENS, LOW_REPLY_TOKENS, estimate
from tests.conftest import run_cli, summary_of

_PROMPTS = [
    "What is 17 * 23?",
    "Explain the CAP theorem in two sentences.",
    "Write a haiku about rate limits. " * 12,  # a long prompt: its tokens dominate the low end
]


def test_a_simulated_run_of_the_default_architecture_spends_within_the_estimate(
    tmp_path: Path,
) -> None:
    prompts = tmp_path / "in.jsonl"
    prompts.write_bytes(
        b"".join(orjson.dumps({"id": i, "prompt": p}) + b"\n" for i, p in enumerate(_PROMPTS))
    )
    batch = ["batch", "--input", str(prompts), "--output", str(tmp_path / "out.jsonl")]
    foreseen = run_cli(*batch, "--estimate")
    assert foreseen.returncode == 0, foreseen.stderr
    figures = orjson.loads(foreseen.stdout)
    done = run_cli(*batch)
    assert done.returncode == 0, done.stderr
    summary = summary_of(done)
    assert summary["simulated"] is True and summary["answered"] == len(_PROMPTS)
    used = {
        "input_tokens": sum(m["input_tokens"] for m in summary["per_model"].values()),
        "output_tokens": sum(m["output_tokens"] for m in summary["per_model"].values()),
    }
    used["tokens"] = used["input_tokens"] + used["output_tokens"]
    for name, value in used.items():
        low, high = figures[name]
        assert low <= value <= high, (name, low, value, high)
    low, high = figures["estimated_cost_usd"]
    assert low <= summary["estimated_cost_usd"] <= high
    # The high end adds the ranker's 3 parse retries a prompt, and a refused probe of n for
    # each generator's model (2): this run's rankings parsed, and the simulator took n.
    assert figures["calls"] == [summary["calls"], 15 * len(_PROMPTS) + 2]
    assert summary["calls"] == 12 * len(_PROMPTS)
    # Requests: 4 a prompt with n; at the high end one a sample, as if n were refused.
    assert figures["requests"] == [summary["requests"], 15 * len(_PROMPTS) + 2]


def test_the_central_figures_lie_between_the_ends_with_replies_as_documented() -> None:
    default = Architecture.from_dict(DEFAULT_ARCHITECTURE)
    figures = estimate(default, ["x" * 400]).to_dict()
    central = figures["central"]
    assert isinstance(central, dict)
    for name in ("calls", "requests", "input_tokens", "output_tokens", "tokens"):
        low, high = figures[name]  # type: ignore[misc]
        assert low <= central[name] <= high, name
    # 12 replies a prompt (10 samples, the ranking, the fusion), max_tokens 2048 each; the
    # high end asks the ranking 3 more times.
    assert figures["output_tokens"] == [12 * LOW_REPLY_TOKENS, 15 * 2048]
    assert central["output_tokens"] == 12 * CENTRAL_REPLY_TOKENS
