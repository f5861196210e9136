"""Dollars in summaries and reports: no float noise, no cheap run shown as $0."""

from __future__ import annotations

import orjson
import pytest

from archon_async._pricing import usd, usd_text
from archon_async._progress import BatchStats
from archon_async._types import CallRecord
from archon_async.search._record import Evaluation
from archon_async.search._spend import add_by_model
from tests.conftest import call_record


def call(model: str, tokens_in: int, tokens_out: int) -> CallRecord:
    return call_record(model, tokens_in, tokens_out, provider="Together_API")


@pytest.mark.parametrize(
    ("value", "json_value", "text"),
    [
        (0.0038376000000000005, 0.0038376, "$0.00384"),
        (0.1 + 0.2, 0.3, "$0.300"),
        (1.2345678e-05, 1.23457e-05, "$0.0000123"),
        (12.3456789, 12.3457, "$12.35"),
        (0.0, 0.0, "$0"),
    ],
)
def test_dollars_for_json_and_for_people(value: float, json_value: float, text: str) -> None:
    assert usd(value) == json_value
    assert usd_text(value) == text


def test_a_batch_summary_writes_dollars_without_float_noise() -> None:
    stats = BatchStats(total=2)
    stats.add_calls([call("Qwen/Qwen2-72B-Instruct", 3126, 1138)])  # 0.0038376000000000005
    stats.add_calls([call("meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo", 20, 860)])
    summary = stats.summary()
    written = orjson.dumps(summary).decode()
    assert summary["per_model"]["Qwen/Qwen2-72B-Instruct"]["estimated_cost_usd"] == 0.0038376
    assert summary["estimated_cost_usd"] == 0.004612
    assert '"estimated_cost_usd":0.0038376}' in written and "00000" not in written
    assert stats.rates().endswith("~$0.00461")


def test_search_records_write_dollars_without_float_noise() -> None:
    evaluation = Evaluation(
        key="k",
        n=1,
        params={},
        score=50.0,
        ci=(40.0, 60.0),
        objective=50.0,
        questions=10,
        calls_per_query=3.0,
        tokens_per_query=100.0,
        dollars_per_query=0.1 + 0.2,
        dollars=0.0038376000000000005,
    )
    line = evaluation.to_json()
    assert (line["dollars_per_query"], line["dollars"]) == (0.3, 0.0038376)
    spend: dict[str, dict[str, float]] = {}
    add_by_model(spend, {"m": {"calls": 1, "tokens": 10, "dollars": 0.1}})
    add_by_model(spend, {"m": {"calls": 1, "tokens": 10, "dollars": 0.2}})
    assert spend["m"] == {"calls": 2, "tokens": 20, "dollars": 0.3}


def test_the_progress_line_never_shows_unpriced_calls_as_free() -> None:
    stats = BatchStats(total=2)
    stats.add_calls([call("my-local-model", 3000, 1000)])
    assert stats.rates().endswith("~$? (no price for my-local-model)")  # was "~$0"
    stats.add_calls([call("Qwen/Qwen2-72B-Instruct", 3126, 1138)])
    assert stats.rates().endswith(">= ~$0.00384 (no price for my-local-model)")
    stats.add_calls([call("a", 1, 1), call("b", 1, 1)])
    assert stats.rates().endswith(">= ~$0.00384 (no price for 3 models)")
    assert stats.summary()["unpriced_models"] == ["a", "b", "my-local-model"]
