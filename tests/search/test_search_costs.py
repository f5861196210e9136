"""A simulated search's outputs: held-out scores, intervals, per-query costs that do not
depend on the cache, and models with no list price named rather than counted as $0."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio
import pytest

from archon_async import ConfigError
from archon_async.search import Search
from tests.cli_process import expect_status, run_cli
from tests.search._spaces import leaderboard, small_space, write


def _space(**extension: Any) -> dict[str, Any]:
    # The final ranking on one pass: its score is on the final-ranking questions alone.
    defaults = {"evaluations": 4, "parallel": 2, "dev_questions": 12, "racing": {"draws": 1}}
    return small_space(finalists=2, **(defaults | extension))


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One simulated GSM8K search with held-out questions."""
    folder = tmp_path_factory.mktemp("costs")
    path = write(folder, _space(held_out_questions=20))
    search = Search(path, simulate=True, run_dir=folder / "run", algorithm="random_search")
    return folder, anyio.run(search.run)


def test_gsm8k_final_ranking_questions_are_scored_like_dev_ones(
    searched: tuple[Path, dict[str, Any]],
) -> None:
    _, report = searched
    final = report["final_ranking"]
    assert len(final) == 2
    for entry in final:
        held = entry["final"]
        assert held["questions"] == 20
        # The simulated models know the final-ranking answers as well as the dev ones (they
        # scored 0 on every one when only the dev questions were in the answer key).
        assert 0.0 < held["score"] <= 100.0
        assert 0.0 <= held["ci"][0] <= held["score"] <= held["ci"][1] <= 100.0


def test_every_interval_is_inside_0_to_100_and_never_a_point(
    searched: tuple[Path, dict[str, Any]],
) -> None:
    folder, _ = searched
    for line in leaderboard(folder / "run"):
        low, high = line["ci"]
        assert 0.0 <= low <= line["score"] <= high <= 100.0
        assert low < high  # 12 questions cannot pin a score down


def test_per_query_costs_are_the_same_when_every_call_is_a_cache_hit(
    searched: tuple[Path, dict[str, Any]],
) -> None:
    folder, _ = searched
    again = folder / "again"
    again.mkdir()
    # A consistent copy of the first run's cache (its log included): every call a hit.
    with closing(sqlite3.connect(folder / "run" / "cache.sqlite")) as source:
        with closing(sqlite3.connect(again / "cache.sqlite")) as target:
            source.backup(target)
    path = folder / "space.json"
    search = Search(path, simulate=True, run_dir=again, algorithm="random_search")
    anyio.run(search.run)
    first, second = leaderboard(folder / "run"), leaderboard(again)
    assert [line["key"] for line in second] == [line["key"] for line in first]
    for one, other in zip(first, second, strict=True):
        assert other["calls"] == 0 and other["cache_hit_share"] == 1.0  # nothing was sent
        assert one["cache_hit_share"] < 1.0
        for cost in ("calls_per_query", "tokens_per_query", "dollars_per_query"):
            assert other[cost] == one[cost] > 0, cost


def test_models_without_a_price_are_named_and_never_a_zero_dollar_anchor(
    tmp_path: Path,
) -> None:
    space = _space(held_out_questions=0)
    space["models_available"] = ["qwen2-72b-instruct", "deepseek-coder-33b-instruct"]
    # Both models generate in every architecture, whichever the ranking puts first.
    space["model_top_k_choices"] = [2]
    path = write(tmp_path, space)
    estimate = run_cli("search", str(path), "--simulate", "--estimate")
    assert estimate.returncode == 0, estimate.stderr
    told = json.loads(estimate.stdout)
    assert told["unpriced_models"] == ["deepseek-ai/deepseek-coder-33b-instruct"]
    assert "deepseek-ai/deepseek-coder-33b-instruct" in told["note"]
    search = Search(path, simulate=True, run_dir=tmp_path / "run", algorithm="grid_search")
    report = anyio.run(search.run)
    assert report["unpriced_models"] == ["deepseek-ai/deepseek-coder-33b-instruct"]
    lines = leaderboard(tmp_path / "run")
    ranking = json.loads((tmp_path / "run" / "ranking.json").read_text())
    turbo_first = max(ranking, key=ranking.__getitem__) == "deepseek-ai/deepseek-coder-33b-instruct"
    # The best-ranked model fuses last in every architecture; the other only generates.
    uses = [line for line in lines if turbo_first or line["params"]["model_top_k"] == 2]
    assert uses and all(
        line["unpriced_models"] == ["deepseek-ai/deepseek-coder-33b-instruct"] for line in uses
    )
    pareto = json.loads((tmp_path / "run" / "pareto.json").read_text())
    assert pareto["cost"] == "calls_per_query"  # not dollars, where it would look free
    assert pareto["unpriced_models"] == ["deepseek-ai/deepseek-coder-33b-instruct"]
    page = (tmp_path / "run" / "report.html").read_text()
    assert 'id="unpriced"' in page
    # Nothing on the page reads as free: a leaderboard row calling the unpriced model costs
    # at least its priced calls' dollars (the other model is priced in every architecture
    # here), the model's own spend is a dash, the total at least what was priced.
    assert "<td>&ge; $" in page and "<th>&ge; $" in page
    assert "$0<" not in page
    space["archon_async"]["objective"] = "score_per_dollar"
    with pytest.raises(
        ConfigError, match=r"no list price for deepseek-ai/deepseek-coder-33b-instruct.*score_per"
    ):
        Search(write(tmp_path, space, "dollar.json"), simulate=True)


def test_a_space_with_no_feasible_architecture_is_an_error_before_any_call(
    tmp_path: Path,
) -> None:
    space = _space()
    space["maximum_inference_calls"] = 1
    path = write(tmp_path, space)
    done = run_cli("search", str(path), "--simulate", "--run-dir", str(tmp_path / "run"))
    assert expect_status(done, 1).stdout == ""
    assert "maximum_inference_calls is 1" in done.stderr
    assert "raise it to at least 2" in done.stderr
    assert not (tmp_path / "run").exists()  # nothing written, nothing called
    space = _space(constraints={"max_tokens_per_query": 10})
    with pytest.raises(ConfigError, match=r"constraints\.max_tokens_per_query is 10 but"):
        Search(write(tmp_path, space, "tokens.json"), simulate=True)


def test_a_budget_stop_is_named_and_exits_1_as_a_stopped_batch_does(tmp_path: Path) -> None:
    path = write(tmp_path, small_space())
    args = ["search", str(path), "--simulate", "--oracle", "--evaluations", "12", "--quiet"]
    done = run_cli(*args, "--budget-architectures", "5", "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["stopped_by"] == "budget: architectures" and report["evaluations"] == 5
    assert (tmp_path / "run" / "best.json").exists()  # the outputs are written
    more = run_cli(*args, "--budget-architectures", "20", "--run-dir", str(tmp_path / "run"))
    assert more.returncode == 0, more.stderr  # a larger budget goes on to the plan
    report = json.loads(more.stdout)
    assert report["stopped_by"] is None and report["evaluations"] == 12
    assert "budget" in run_cli("search", "--help").stdout.split("exit status")[1]


def test_spend_by_model_holds_every_call_and_sums_to_the_totals(tmp_path: Path) -> None:
    from tests.search._spaces import EXAMPLE

    # Archon's example: arena_hard, judged pairwise against a baseline, with a final ranking.
    search = Search(EXAMPLE, simulate=True, run_dir=tmp_path / "run")
    report = anyio.run(search.run)
    spend = report["spend"]
    models = spend["by_model"]
    judge, baseline = "gpt-4o-mini", "gpt-4-turbo"  # the model ids of their configs
    assert judge in models and baseline in models
    for total in ("calls", "tokens"):
        assert sum(row[total] for row in models.values()) == spend[total]
    assert sum(row["dollars"] for row in models.values()) == pytest.approx(
        spend["dollars"], abs=1e-6
    )
    # A fresh run: every call it sent (ranking, baseline, judge, held-out) is in the table.
    assert spend["calls"] == report["sent"]["calls"] and spend["outside_evaluations"]["calls"]
    # What no evaluation owns, in the totals' terms (its tokens were missing).
    outside = json.loads((tmp_path / "run" / "outside_spend.json").read_text())
    assert spend["outside_evaluations"] == {
        "calls": sum(row["calls"] for row in outside.values()),
        "tokens": sum(row["tokens"] for row in outside.values()),
        "dollars": pytest.approx(sum(row["dollars"] for row in outside.values()), abs=1e-5),
    }
    page = (tmp_path / "run" / "report.html").read_text()
    table = page.split('id="spend"')[1].split("</table>")[0]
    assert table.count("<tr>") == len(models) + 2  # header, a row a model, the total
    assert f"<td>{judge}</td>" in table and f"<td>{baseline}</td>" in table
