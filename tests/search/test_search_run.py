"""The search end to end: the example file on the simulator, every algorithm, infeasible
points never evaluated, resume after a kill, and the run directory's outputs."""

from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser
from pathlib import Path

import anyio
import orjson
import pytest

from archon_async import Architecture, ConfigError
from archon_async.search import ALGORITHMS, Candidate, Search, Space, search_file_from_dict
from tests.cli_process import expect_status, run_cli, start_cli
from tests.search._browser import rendered_dom, screenshot
from tests.search._spaces import EXAMPLE, leaderboard, oracle_run, small_space, write


def test_archons_example_runs_end_to_end_on_the_simulator(tmp_path: Path) -> None:
    done = run_cli("search", str(EXAMPLE), "--simulate", "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["benchmark"] == "arena_hard" and report["mode"] == "simulated"
    lines = leaderboard(tmp_path / "run")
    # The space of the example holds two architectures: both are evaluated, with calls.
    assert sorted(line["key"] for line in lines) == ["m1s1", "m2s1"]
    assert all(line["calls"] > 0 and line["mode"] == "simulated" for line in lines)
    # The dev subset is Archon's dataset_sample_for_search: 1.25% of 500 questions.
    assert all(line["questions"] == 6 for line in lines)
    # Archon's final ranking: the best architectures re-scored on the final-ranking questions
    # (racing further passes, each answered anew, only within racing.max_share of the
    # evaluations' calls: here that first stage alone spends the share).
    final = report["final_ranking"]
    assert sorted(entry["key"] for entry in final) == sorted(line["key"] for line in lines)
    # Listed by what chose the best: the final ranking's own objective.
    assert [e["objective"] for e in final] == sorted((e["objective"] for e in final), reverse=True)
    assert final[0]["key"] == report["best"]["key"]
    assert all(entry["questions"] == 12 for entry in final)
    assert all(entry["final"]["questions"] == 6 for entry in final)
    racing = report["racing"]
    assert racing["limited"] and racing["max_share"] == 1.0
    assert 0 < racing["calls"] <= racing["evaluation_calls"]
    best = Architecture.from_file(tmp_path / "run" / "best.json")
    assert best.layers[-1][0].type == "fuser"


def test_oracle_report_records_the_true_best_and_regret(tmp_path: Path) -> None:
    path = write(tmp_path, small_space())
    report = oracle_run(path, tmp_path / "run", algorithm="grid_search")
    assert report["regret"] == 0.0
    assert report["true_best"]["key"] == report["found"]["key"]
    lines = leaderboard(tmp_path / "run")
    first = next(line["n"] for line in lines if line["key"] == report["true_best"]["key"])
    assert report["evaluations_to_best"] == first
    assert all(line["calls"] == 0 for line in lines)  # the oracle makes no call


@pytest.mark.parametrize("algorithm", sorted(set(ALGORITHMS) - {"gaussian_process"}))
def test_each_algorithm_evaluates_distinct_feasible_points_reproducibly(
    tmp_path: Path, algorithm: str
) -> None:
    path = write(tmp_path, small_space(evaluations=24, parallel=4))
    report = oracle_run(path, tmp_path / "a", algorithm=algorithm, seed=3)
    again = oracle_run(path, tmp_path / "b", algorithm=algorithm, seed=3)
    assert again["best"] == report["best"]
    first, second = leaderboard(tmp_path / "a"), leaderboard(tmp_path / "b")
    keys = [line["key"] for line in first]
    assert keys == [line["key"] for line in second]  # same seed, same search
    assert len(keys) == len(set(keys)) == report["evaluations"] == 24
    settings, models = search_file_from_dict(small_space())
    space = Space(settings, models)
    feasible = {c.key() for c in space.candidates}
    assert set(keys) <= feasible
    assert all(line["calls_per_query"] <= 12 for line in first)
    assert report["best"]["key"] == max(first, key=lambda line: line["objective"])["key"]


def test_gaussian_process_needs_torch_or_says_so(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="Optuna's GPSampler needs torch (a multi-GB install)")
    path = write(tmp_path, small_space(evaluations=14))
    report = oracle_run(path, tmp_path / "gp", algorithm="gaussian_process")
    assert report["evaluations"] == 14


def test_gaussian_process_without_torch_is_a_clear_error(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed: the GP sampler runs (see the test above)")
    path = write(tmp_path, small_space(evaluations=14))
    with pytest.raises(ConfigError, match="needs torch"):
        oracle_run(path, tmp_path / "gp", algorithm="gaussian_process")


def test_infeasible_points_are_never_evaluated_even_by_a_full_grid(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(constraints={"max_tokens_per_query": 8000}))
    oracle_run(path, tmp_path / "run", algorithm="grid_search", evaluations=10_000)
    lines = leaderboard(tmp_path / "run")
    settings, models = search_file_from_dict(
        small_space(constraints={"max_tokens_per_query": 8000})
    )
    assert len(lines) == len(Space(settings, models))
    assert all(line["tokens_per_query"] <= 8000 for line in lines)


def test_a_killed_search_resumes_to_the_same_result(tmp_path: Path) -> None:
    import anyio

    path = write(tmp_path, small_space(evaluations=20, parallel=3))
    whole = oracle_run(path, tmp_path / "whole", algorithm="tpe", seed=5)

    async def killed() -> None:
        search = Search(
            path, simulate=True, oracle=True, run_dir=tmp_path / "cut", algorithm="tpe", seed=5
        )
        seen = 0
        async for event in search.events():
            seen += event.kind == "evaluated"
            if seen == 7:
                return  # the process dies here: the rest never runs

    anyio.run(killed)
    assert 7 <= len(leaderboard(tmp_path / "cut")) < 20
    resumed = oracle_run(path, tmp_path / "cut", algorithm="tpe", seed=5)
    assert [line["key"] for line in leaderboard(tmp_path / "cut")] == [
        line["key"] for line in leaderboard(tmp_path / "whole")
    ]
    assert resumed["best"] == whole["best"]
    assert resumed["evaluations_to_best"] == whole["evaluations_to_best"]


def test_a_search_killed_by_a_signal_resumes_from_its_record(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(evaluations=40, parallel=1))
    run_dir = tmp_path / "run"
    args = ["search", str(path), "--simulate", "--oracle", "--algorithm", "slice_search"]
    board = run_dir / "leaderboard.jsonl"
    with start_cli(*args, "--run-dir", str(run_dir), logs=tmp_path / "logs") as child:
        child.wait_until(lambda: board.exists() and len(board.read_bytes().splitlines()) >= 3)
    # Leaving the block killed it (SIGKILL), unless it had just finished (then the run
    # below has nothing left to do).
    done = expect_status(run_cli(*args, "--run-dir", str(run_dir)))
    whole = expect_status(run_cli(*args, "--run-dir", str(tmp_path / "whole")))
    assert json.loads(done.stdout)["best"] == json.loads(whole.stdout)["best"]
    keys = [line["key"] for line in leaderboard(run_dir)]
    assert keys == [line["key"] for line in leaderboard(tmp_path / "whole")]


def test_a_different_space_refuses_to_resume(tmp_path: Path) -> None:
    first = write(tmp_path, small_space(evaluations=5))
    oracle_run(first, tmp_path / "run")
    other = write(
        tmp_path, small_space(evaluations=5) | {"maximum_inference_calls": 11}, name="other.json"
    )
    with pytest.raises(ConfigError, match="holds another search"):
        Search(other, simulate=True, oracle=True, run_dir=tmp_path / "run")
        oracle_run(other, tmp_path / "run")


def test_a_larger_budget_in_the_file_resumes_the_same_search(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(evaluations=10, budget={"architectures": 4}))
    first = anyio.run(Search(path, simulate=True, oracle=True, run_dir=tmp_path / "run").run)
    assert first["evaluations"] == 4
    path = write(
        tmp_path,
        small_space(
            evaluations=10, budget={"architectures": 10}, providers={"Together_API": {"rpm": 60}}
        ),
    )
    report = anyio.run(Search(path, simulate=True, oracle=True, run_dir=tmp_path / "run").run)
    assert report["evaluations"] == 10
    lines = leaderboard(tmp_path / "run")
    assert [line["n"] for line in lines] == list(range(1, 11))  # the first four kept


def test_budget_of_architectures_stops_the_search(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(budget={"architectures": 6}))
    report = oracle_run(path, tmp_path / "run", algorithm="random_search")
    assert report["evaluations"] == 6


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.tags: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.ids |= {v for k, v in attrs if k == "id" and v}


def test_outputs_pareto_and_html_report_parse(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(evaluations=30))
    oracle_run(path, tmp_path / "run", algorithm="random_search")
    run_dir = tmp_path / "run"
    pareto = orjson.loads((run_dir / "pareto.json").read_bytes())
    front = pareto["front"]
    assert front and all(a["score"] < b["score"] for a, b in itertools.pairwise(front))
    ElementTree.fromstring((run_dir / "pareto.svg").read_text())  # well-formed SVG
    page = (run_dir / "report.html").read_text()
    parser = _Collect()
    parser.feed(page)
    assert {"best", "leaderboard", "spend"} <= parser.ids
    assert parser.tags.count("svg") == 2 and "SIMULATED" in page
    # The page is one self-contained file of HTML and inline SVG (rendered by a browser in
    # the test below).
    space = Space(*search_file_from_dict(small_space()))
    for line in leaderboard(run_dir):
        candidate = Candidate.from_params(line["params"])
        Architecture.from_dict(space.archon_config(candidate))


def test_estimate_prints_the_expected_spend(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(evaluations=10, dev_questions=20))
    done = run_cli(
        "search", str(path), "--simulate", "--estimate", "--run-dir", str(tmp_path / "run")
    )
    assert done.returncode == 0, done.stderr
    estimate = json.loads(done.stdout)
    calls = estimate["calls"]
    assert calls["low"] <= calls["expected"] <= calls["high"]
    assert not (tmp_path / "run").exists()  # nothing was run


def test_the_report_renders_in_a_headless_browser(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(evaluations=20))
    oracle_run(path, tmp_path / "run", algorithm="random_search")
    page = tmp_path / "run" / "report.html"
    parser = _Collect()
    parser.feed(rendered_dom(page))  # the DOM the browser built, not the file
    assert {"best", "leaderboard", "spend"} <= parser.ids
    assert parser.tags.count("svg") == 2 and parser.tags.count("tr") > 20
    shot = tmp_path / "report.png"
    screenshot(page, shot)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_a_simulated_search_shares_one_cache_across_architectures(tmp_path: Path) -> None:
    import anyio

    # One pass and no final-ranking questions: no final ranking, the evaluations alone.
    data = small_space(evaluations=6, dev_questions=8, held_out_questions=0, racing={"draws": 1})
    path = write(tmp_path, data)
    search = Search(path, simulate=True, run_dir=tmp_path / "run", algorithm="random_search")
    report = anyio.run(search.run)
    assert report["mode"] == "simulated" and report["evaluations"] == 6
    lines = leaderboard(tmp_path / "run")
    # The model ranking ran every model alone on the same questions: an architecture's
    # first sample of each of its generators is answered from the cache, for nothing.
    assert all(line["cache_hit_share"] > 0 for line in lines)
    assert all(line["calls"] < line["calls_per_query"] * line["questions"] for line in lines)
    assert (tmp_path / "run" / "cache.sqlite").exists()
    # What the search sent, the ranking included: with the hits, every call the same runs
    # make without a cache (four models alone on 8 questions, then each architecture).
    sent = report["sent"]
    naive = 4 * 8 + sum(round(line["calls_per_query"] * line["questions"]) for line in lines)
    assert sent["calls"] + sent["cache_hits"] == naive
    assert sent["calls"] == sum(line["calls"] for line in lines) + 4 * 8
    assert sent["tokens"] == sent["input_tokens"] + sent["output_tokens"] > 0
