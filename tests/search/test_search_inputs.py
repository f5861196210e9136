"""What a user sees of the search beyond its results: bad input said plainly before any
call (with the place and a suggestion), budgets given either way, keys checked first, live
progress that reads in order, and a report page without Python reprs."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import anyio
import orjson
import pytest

import archon_async
from archon_async import ConfigError
from archon_async.cli import main
from archon_async.search import Search, SearchEvent, search_file_from_dict
from tests.cli_process import expect_status, run_cli
from tests.search._spaces import EXAMPLE, Refusal, events_of, sampled_search, small_space, write


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--parallel", "0"),
        ("--evaluations", "0"),
        ("--budget-calls", "-5"),
        ("--budget-dollars", "-1"),
        ("--budget-wall-time-s", "nan"),
        ("--budget-tokens", "many"),
    ],
)
def test_out_of_range_options_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    path = write(tmp_path, small_space())
    with pytest.raises(SystemExit) as raised:
        main(["search", str(path), "--simulate", "--oracle", option, value])
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert option in error and "Traceback" not in error
    assert not (tmp_path / "space.search").exists()


def test_a_misspelt_simulation_effect_names_its_place_and_the_key_meant(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, small_space(simulation={"fuser_corupt": 0.3}))
    with pytest.raises(ConfigError) as raised:
        Search(path, simulate=True, oracle=True)
    message = str(raised.value)
    assert "archon_async.simulation.fuser_corupt" in message
    assert "did you mean 'fuser_corrupt'" in message


def test_an_effect_out_of_range_names_its_place(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(simulation={"fuser_corrupt": 3}))
    with pytest.raises(ConfigError, match=r"archon_async\.simulation\.fuser_corrupt: .*1"):
        Search(path, simulate=True, oracle=True)


def test_a_misspelt_key_of_our_section_suggests_the_key_meant() -> None:
    data = small_space()
    data["archon_async"]["critic_choice"] = data["archon_async"].pop("critic_choices")
    with pytest.raises(ConfigError) as raised:
        search_file_from_dict(data)
    assert "archon_async.critic_choice" in str(raised.value)
    assert "did you mean 'critic_choices'" in str(raised.value)


def test_too_many_top_models_names_the_choice() -> None:
    with pytest.raises(ConfigError, match="model_top_k_choices asks for the top 9 models"):
        search_file_from_dict(small_space() | {"model_top_k_choices": [9]})


def test_a_missing_model_file_is_said_before_the_top_k_it_leaves_too_large(
    tmp_path: Path,
) -> None:
    # The top_k problem was the only one said: the user lowered model_top_k, then met the
    # missing file.
    space = small_space() | {"model_top_k_choices": [9]}
    space["models_available"] = [*space["models_available"], "no-such-model.json"]
    with pytest.raises(ConfigError) as raised:
        search_file_from_dict(space, base=tmp_path)
    message = str(raised.value)
    assert message.startswith("<dict>: 2 problems:\n  models_available["), message
    assert message.index("no model config 'no-such-model.json'") < message.index(
        "model_top_k_choices asks for the top 9 models"
    )
    assert len(raised.value.problems) == 2


def test_an_unknown_top_level_key_is_one_plain_warning_line(tmp_path: Path) -> None:
    # Few questions: the estimate of the whole benchmark's default sets (791 dev questions)
    # took over the command's 240 s at load 36, for a test of one warning line.
    space = small_space(dev_questions=10, held_out_questions=5, report_questions=5)
    path = write(tmp_path, space | {"random_search_iteration": 3})
    done = run_cli("search", str(path), "--simulate", "--estimate")
    assert done.returncode == 0, done.stderr
    assert (
        "archon-async: warning: " in done.stderr
        and "did you mean 'random_search_iterations'" in done.stderr
    )
    assert "_load.py" not in done.stderr and "ConfigWarning" not in done.stderr
    assert done.stderr.count("unknown search key") == 1  # the command read the file twice


def test_an_engine_budget_caps_a_search_as_calls_tokens_and_dollars(tmp_path: Path) -> None:
    path = write(tmp_path, small_space())
    engine_budget = archon_async.Budget(max_calls=500, max_tokens=9000, max_cost_usd=1.5)
    search = Search(path, simulate=True, oracle=True, budget=engine_budget)
    assert (search.budget.calls, search.budget.tokens, search.budget.dollars) == (500, 9000, 1.5)
    assert Search(path, simulate=True, budget={"architectures": 4}).budget.architectures == 4
    with pytest.raises(ConfigError, match="budget must be"):
        Search(path, simulate=True, budget=500)
    with pytest.raises(ConfigError, match=r"budget\.calls"):
        Search(path, simulate=True, budget={"calls": 0})


def test_a_missing_key_is_said_for_the_search_before_the_run_directory_is_written(
    keyless_refusal: Refusal,
) -> None:
    path, run_dir = keyless_refusal.path, keyless_refusal.run_dir
    message = keyless_refusal.error.cli_message or ""  # as the command line says it
    assert str(path) in message and "TOGETHER_API_KEY" in message
    assert "--simulate" in message and "--base-url" not in message
    # No run directory at all: it was made (empty, or with a lock file) before the check.
    assert not run_dir.exists()
    # Doing as advised, in the same run directory, works.
    report = anyio.run(Search(path, run_dir=run_dir, simulate=True, oracle=True).run)
    assert report["evaluations"] == 3


def test_a_run_directory_with_nothing_to_resume_takes_another_search(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(evaluations=3))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "search.json").write_bytes(orjson.dumps({"mode": "real", "seed": 7}))
    report = anyio.run(Search(path, run_dir=run_dir, simulate=True, oracle=True).run)
    assert report["evaluations"] == 3
    # Once it holds results, another search is refused.
    with pytest.raises(ConfigError, match="holds another search"):
        anyio.run(Search(path, run_dir=run_dir, simulate=True, oracle=True, seed=1).run)


def test_progress_events_read_in_proposal_order_with_the_best_so_far(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(evaluations=12))
    search = Search(path, simulate=True, oracle=True, parallel=4, run_dir=tmp_path / "run")
    events = [e.data for e in events_of(search, "evaluated")]
    assert [e["evaluated"] for e in events] == list(range(1, 13))
    assert all(e["planned"] == 12 for e in events)
    best: dict[str, object] | None = None
    for event in events:
        if best is None or float(event["objective"]) > float(best["objective"]):  # type: ignore[arg-type]
            best = event
        assert event["best_key"] == best["key"]  # the best among those before it, not after
        assert set(event["spent"]) == {"calls", "tokens", "dollars"}  # type: ignore[arg-type]


class _RunTable(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h2":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if data == "Run":
            self.inside = True
        elif self.inside:
            self.text.append(data)


def test_the_report_shows_parameters_and_no_python_reprs(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(evaluations=8))
    anyio.run(Search(path, simulate=True, oracle=True, run_dir=tmp_path / "run").run)
    page = (tmp_path / "run" / "report.html").read_text()
    table = _RunTable()
    table.feed(page)
    run = " ".join(table.text)
    assert run.strip()
    for repr_text in ("{'", "True", "False", "None"):
        assert repr_text not in run
    assert "models x" in page and "samples" in page  # each architecture in words
    # The headline's score reads as the leaderboard's (86.67, not 86.666667).
    best = orjson.loads((tmp_path / "run" / "report.json").read_bytes())["best"]
    assert f"dev score {best['score']:.2f} points" in page


def test_held_out_questions_score_the_chosen_architecture_for_the_report_only(
    tmp_path: Path,
) -> None:
    space = small_space(
        evaluations=4,
        parallel=2,
        dev_questions=6,
        held_out_questions=5,
        report_questions=7,
        racing={"draws": 2},  # a second pass: the race's further questions are not held out
    )
    path = write(tmp_path, space)
    search = Search(path, simulate=True, run_dir=tmp_path / "run")
    dev, final = search.questions()
    report_items = search.report_questions()
    ids = [{item.id for item in part} for part in (dev, final, report_items)]
    assert [len(part) for part in ids] == [6, 5, 7]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])  # disjoint
    report = anyio.run(search.run)
    held_out = report["held_out"]
    assert held_out["key"] == report["best"]["key"] and held_out["questions"] == 7
    assert 0 <= held_out["ci"][0] <= held_out["score"] <= held_out["ci"][1] <= 100
    # Chosen by the final ranking, whatever the held-out score says; listed by it.
    final = max(report["final_ranking"], key=lambda e: (e["objective"], -e["n"]))
    assert final["key"] == report["best"]["key"] == report["final_ranking"][0]["key"]
    page = (tmp_path / "run" / "report.html").read_text()
    assert 'id="chosen"' in page and "held-out score (never used to choose)" in page
    # Without held-out questions the report says none.
    none = write(
        tmp_path,
        space | {"archon_async": {**space["archon_async"], "report_questions": 0}},
        "n.json",
    )
    assert (
        anyio.run(Search(none, simulate=True, run_dir=tmp_path / "n").run).get("held_out") is None
    )


@pytest.mark.parametrize("cap", [10, 100, 140])
def test_a_call_cap_reached_anywhere_stops_cleanly_with_every_output(
    tmp_path: Path, cap: int
) -> None:
    space = {
        "model_top_k_choices": [1, 2],
        "sample_top_k_choices": [1, 3],
        "fuser_layer_1_choices": [0, 1],
        "maximum_inference_calls": 10,
        "models_available": small_space()["models_available"],
        "benchmark": "gsm8k",
        "number_of_archon_configs_for_final_ranking": 3,
        "archon_async": {
            "dev_questions": 8, "held_out_questions": 8, "report_questions": 8, "evaluations": 6
        },
    }  # fmt: skip
    path = write(tmp_path, space)
    search = Search(path, simulate=True, run_dir=tmp_path / "run", budget={"calls": cap})
    # At 10 the cap falls in the model ranking, at 100 in the evaluations, at 140 in the
    # final ranking: no
    # BudgetExceededError escapes, and the stop is reported as one.
    report = anyio.run(search.run)
    assert (tmp_path / "run" / "report.json").exists()
    assert report["sent"]["calls"] <= cap
    assert report["stopped_by"].startswith("budget: calls")
    # What was sent counts when the search resumes, wherever it stopped (10: in the ranking).
    assert (tmp_path / "run" / "spent.json").exists()


def _example(**changes: object) -> dict[str, object]:
    data = orjson.loads(EXAMPLE.read_bytes())
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return data


@pytest.mark.parametrize("key", ["judge_model", "baseline_model"])
def test_a_judged_benchmark_without_its_judge_or_baseline_is_refused_before_any_call(
    tmp_path: Path, key: str
) -> None:
    # Arena-Hard is judged pairwise against the baseline: without either the model ranking
    # used to run (calls paid) and then fail with a ValueError traceback.
    path = write(tmp_path, _example(**{key: None}))
    run_dir = tmp_path / "run"
    done = run_cli("search", str(path), "--simulate", "--run-dir", str(run_dir))
    expect_status(done, 1)
    assert "Traceback" not in done.stderr
    assert f"set {key}" in done.stderr and "arena_hard" in done.stderr
    assert not run_dir.exists()
    # The oracle scores by the ground truth: it needs neither.
    Search(path, simulate=True, oracle=True, run_dir=run_dir)


def test_a_judge_that_cannot_be_found_leaves_no_run_directory_to_refuse_the_fix(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, _example(judge_model="configs/individual_models/gpt-4o-minii.json"))
    run_dir = tmp_path / "run"
    with pytest.raises(ConfigError, match=r"judge_model: no model config .*gpt-4o-minii"):
        Search(path, simulate=True, run_dir=run_dir)
    assert not run_dir.exists()
    write(tmp_path, _example())  # corrected: the same run directory takes it
    report = anyio.run(Search(path, simulate=True, run_dir=run_dir, evaluations=1, parallel=1).run)
    assert report["evaluations"] == 1 and report["mode"] == "simulated"


def test_the_final_ranking_tells_its_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The final ranking re-scores the best on every final question: it can take longer
    # than the search, and a display must not sit silent through it.
    space = small_space(
        finalists=3,
        evaluations=8,
        dev_questions=20,
        held_out_questions=40,
        racing={"leaders": 0, "draws": 2, "first_passes": 1},
    )
    search = sampled_search(write(tmp_path, space), tmp_path / "run", parallel=4)
    events = [(e.kind, e.data) for e in events_of(search)]
    kinds = [kind for kind, _ in events]
    finals = [data for kind, data in events if kind == "final_scored"]
    # Three finalists on the 60 selection questions, then two on two passes (120).
    assert [(e["done"], e["of"], e["stage"]) for e in finals] == [
        (1, 5, 1),
        (2, 5, 1),
        (3, 5, 1),
        (4, 5, 2),
        (5, 5, 2),
    ]
    assert [e["questions"] for e in finals] == [60, 60, 60, 120, 120]
    # Each among those racing in its stage (the plan's 5 scorings are no finalists' count).
    assert [(e["place"], e["racing"]) for e in finals] == [(1, 3), (2, 3), (3, 3), (1, 2), (2, 2)]
    assert kinds.index("final_scored") > max(i for i, k in enumerate(kinds) if k == "evaluated")
    assert kinds[-1] == "finished"
    ranking = {entry["key"]: entry for entry in search.result["final_ranking"]}  # type: ignore[index]
    for event in finals[3:]:  # the last stage's scores are those the ranking lists
        entry = ranking[event["key"]]
        assert (event["score"], event["questions"]) == (entry["score"], entry["questions"])
        assert entry["final"]["questions"] == 100  # beyond the dev questions that chose it
    # The command line prints them.
    from archon_async._cli_search import _progress

    _progress(SearchEvent("final_scored", finals[1]))
    line = capsys.readouterr().err
    assert line.startswith(f"[final ranking: stage 1, finalist 2 of 3] {finals[1]['key']}: ")
    assert "on 40 questions new to the finalists (60 answered in all; dev" in line


def test_a_key_with_a_line_break_is_said_for_the_search_before_the_run_directory(
    tmp_path: Path,
) -> None:
    # It was said by the first engine to open, after the run directory was written and the
    # model ranking had started, under the source '<dict>'.
    secret = "sk-Search-0123456789"
    keys = tmp_path / "keys.json"
    keys.write_bytes(orjson.dumps({"TOGETHER_API_KEY": [f"{secret}\nsk-Other-0123456789"]}))
    path = write(tmp_path, small_space(evaluations=3))
    run_dir = tmp_path / "run"
    with pytest.raises(ConfigError) as refused:
        anyio.run(Search(path, run_dir=run_dir, keys=keys).run)
    message = str(refused.value)
    assert message.startswith(f"{path}: TOGETHER_API_KEY (key-") and "line break" in message
    assert secret not in message
    assert not (run_dir / "search.json").exists()
