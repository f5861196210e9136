"""What a person reads while a search runs and after: the model ranking's live progress,
counts in words, the Pareto plot's units and the report's spend table."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import orjson
import pytest

from archon_async._cli_search import _progress
from archon_async.search import Search, SearchEvent
from archon_async.search._space import Candidate
from tests.search._spaces import Refusal, events_of, sampled_search, small_space, write


def test_the_model_ranking_shows_each_model_as_it_is_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, small_space(evaluations=1, dev_questions=6, held_out_questions=0))
    search = Search(path, simulate=True, run_dir=tmp_path / "run", algorithm="random_search")
    events = events_of(search)
    kinds = [event.kind for event in events]
    # Said before the first ranking call, then once per model, before any evaluation.
    assert kinds[:6] == ["ranking"] * 5 + ["ranked"]
    start, *done = (event.data for event in events[:5])
    assert start == {"done": 0, "of": 4, "questions": 6}
    assert [d["done"] for d in done] == [1, 2, 3, 4]
    assert {d["model"] for d in done} == set(events[5].data["ranking"])
    calls = [d["spent"]["calls"] for d in done]
    assert calls == sorted(calls) and calls[-1] == 4 * 6  # each model alone, 6 questions
    for event in events[:5]:
        _progress(event)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "[ranking 0/4] each model alone on 6 questions"
    assert re.fullmatch(
        r"\[ranking 4/4\] \S+: \d+\.\d\d \(spent 24 calls, [\d,]+ tokens, \$.+\)", lines[4]
    )


def test_counts_in_words_are_singular_for_one() -> None:
    one = Candidate.from_params(
        {
            "model_top_k": 1,
            "sample_top_k": 1,
            "fuser_layer_1": 1,
            "fuser_layer_2": 0,
            "fuser_layer_3": 0,
            "critic": False,
            "ranker": False,
            "ranker_top_k": 0,
            "final": "none",
        }
    )
    assert one.describe() == "top 1 model x 1 sample; a fusion layer of 1 fuser"
    two = Candidate.from_params(
        {
            "model_top_k": 3,
            "sample_top_k": 2,
            "fuser_layer_1": 4,
            "fuser_layer_2": 2,
            "fuser_layer_3": 0,
            "critic": True,
            "ranker": False,
            "ranker_top_k": 0,
            "final": "verifier",
        }
    )
    assert (
        two.describe() == "top 3 models x 2 samples; fusion layers of 4, 2 fusers; critic; verifier"
    )


def test_the_pareto_plot_and_spend_table_show_units(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(evaluations=4, dev_questions=5, held_out_questions=0))
    search = Search(path, simulate=True, run_dir=tmp_path / "run", algorithm="random_search")
    anyio.run(search.run)
    svg = (tmp_path / "run" / "pareto.svg").read_text()
    assert "list-price dollars per query" in svg
    # Read alone, the plot and the front say they are simulated.
    assert "SIMULATED: Score against cost per query" in svg
    front = orjson.loads((tmp_path / "run" / "pareto.json").read_bytes())
    assert front["simulated"] is True and front["mode"] == "simulated"
    x_ticks = re.findall(r'class="x-tick"[^>]*>([^<]*)</text>', svg)
    y_ticks = re.findall(r'class="y-tick"[^>]*>([^<]*)</text>', svg)
    assert len(x_ticks) >= 3 and all(re.fullmatch(r"\$\d+\.\d+", t) for t in x_ticks)
    assert len(y_ticks) >= 3 and all(re.fullmatch(r"\d+(\.\d+)?", t) for t in y_ticks)
    page = (tmp_path / "run" / "report.html").read_text()
    spend = page[page.index('<table id="spend">') :]
    spend = spend[: spend.index("</table>")]
    assert re.search(r"<th>total</th><th>[\d,]+</th><th>[\d,]+</th><th>\$[\d.]+</th>", spend)


def test_a_final_ranking_line_says_which_questions_its_score_is_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    progress = {"key": "m2s1", "dev_score": 75.0, "stage": 1, "done": 1, "of": 6}
    progress |= {"place": 1, "racing": 4}
    _progress(
        SearchEvent(
            "final_scored", progress | {"score": 83.3333, "fresh_questions": 30, "questions": 42}
        )
    )
    _progress(
        SearchEvent(
            "final_scored", progress | {"score": 80.0, "fresh_questions": 1, "questions": 1}
        )
    )
    first, second = capsys.readouterr().err.splitlines()
    assert first == (
        "[final ranking: stage 1, finalist 1 of 4] m2s1: 83.33 on 30 questions new to the "
        "finalists "
        "(42 answered in all; dev 75.00)"
    )
    assert second == (
        "[final ranking: stage 1, finalist 1 of 4] m2s1: 80.00 on 1 selection question (dev 75.00)"
    )


def test_a_missing_key_is_told_once_in_the_searchs_own_terms(keyless_refusal: Refusal) -> None:
    message, cli = str(keyless_refusal.error), keyless_refusal.error.cli_message or ""
    for text in (message, cli):
        assert text.count(".env") == 1 and text.count("simulated provider") == 1
        assert "Engine(" not in text and "TOGETHER_API_KEY_2" in text
    assert "Search(keys=PATH)" in message and "--keys" not in message
    assert "--keys FILE" in cli and "--simulate" in cli and "--base-url" not in cli


@pytest.mark.parametrize(
    ("budget", "said"),
    [
        ({"dollars": 0.002}, r"budget: dollars \(\$0\.00\d+ of \$0\.00200 sent\)"),
        ({"tokens": 5000}, r"budget: tokens \(\d,\d{3} of 5,000 sent\)"),
    ],
)
def test_a_budget_stop_says_its_units(tmp_path: Path, budget: dict[str, float], said: str) -> None:
    path = write(tmp_path, small_space(evaluations=3, dev_questions=4, held_out_questions=0))
    search = Search(
        path, simulate=True, run_dir=tmp_path / "run", algorithm="random_search", budget=budget
    )
    assert re.fullmatch(said, anyio.run(search.run)["stopped_by"])


def test_the_report_shows_the_final_ranking_as_one_table(tmp_path: Path) -> None:
    data = small_space(
        finalists=3, evaluations=8, parallel=2, dev_questions=20, held_out_questions=10
    )
    search = sampled_search(write(tmp_path, data), tmp_path / "run", algorithm="random_search")
    report = anyio.run(search.run)
    page = (tmp_path / "run" / "report.html").read_text()
    table = page[page.index('<table id="final-ranking">') :]
    table = table[: table.index("</table>")]
    keys = re.findall(r"<tr><td>\d+</td><td>([^<]+)</td>", table)
    assert keys == [entry["key"] for entry in report["final_ranking"]]
    run = page[page.index("<h2>Run</h2>") :]
    assert "final_ranking" not in run  # not again as nested tables of tables


def test_racing_after_a_batch_is_told(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = small_space(evaluations=6, parallel=2, dev_questions=20, held_out_questions=10)
    search = sampled_search(write(tmp_path, data), tmp_path / "run", algorithm="random_search")
    raced = events_of(search, "raced")
    assert raced and all(e.data["leaders"] > 0 and e.data["questions"] > 0 for e in raced)
    report = search.result or {}
    assert sum(e.data["questions"] for e in raced) <= report["racing"]["questions_this_run"]
    _progress(raced[0])
    line = capsys.readouterr().err
    assert re.fullmatch(r"\[racing\] \d leaders? re-evaluated on [\d,]+ more questions?\n", line)


@pytest.mark.parametrize(
    ("evaluations", "options", "planned"),
    [
        (None, {"algorithm": "grid_search"}, None),  # until the space is exhausted: its size
        (8, {"algorithm": "random_search", "budget": {"architectures": 3}}, 3),
    ],
)
def test_progress_counts_to_what_the_search_will_evaluate(
    tmp_path: Path, evaluations: int | None, options: dict[str, object], planned: int | None
) -> None:
    space = small_space(evaluations=evaluations) if evaluations else small_space()
    search = Search(
        write(tmp_path, space), simulate=True, oracle=True, run_dir=tmp_path / "run", **options
    )  # type: ignore[arg-type]
    events = [e.data for e in events_of(search, "evaluated")]
    total = planned or (search.result or {})["space_size"]
    assert len(events) == total
    assert {e["planned"] for e in events} == {total}


def test_search_help_names_the_choices_the_defaults_and_what_each_budget_caps() -> None:
    from archon_async.search import ALGORITHMS
    from tests.cli_process import run_cli

    done = run_cli("search", "--help")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert all(name in text for name in ALGORITHMS)  # every algorithm a file may name
    assert "archon-async batch --list-benchmarks" in text
    assert "seeds every random choice (0 to 4294967295; default: 0)" in text
    assert "(default: the file's archon_async.parallel, 4)" in text
    # The calls are a hard cap over every run (not "stop starting evaluations"), and the
    # units are said: dollars, seconds.
    assert "--budget-calls N a hard cap on the calls sent over every run" in text
    assert "--budget-dollars USD stop sending at USD list-price dollars" in text
    assert "--budget-wall-time-s SECONDS stop starting evaluations after SECONDS" in text
    assert "wall time s reach" not in text


def test_a_race_the_share_cut_short_says_so_when_the_search_ends(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # When racing's share ends the final ranking before its plan's last stage, the last
    # line says why (it used to end there without a word).
    racing = {"calls": 3164, "share": 1.0, "max_share": 1.0, "limited": True}
    _progress(SearchEvent("finished", {"racing": racing, "evaluations": 2}))
    _progress(SearchEvent("finished", {"racing": racing | {"limited": False}}))
    _progress(SearchEvent("finished", {"evaluations": 2}))  # no racing at all
    assert capsys.readouterr().err.splitlines() == [
        "[racing] stopped at its share: 3,164 calls, 1.00 times the evaluations' "
        "(racing.max_share 1; raise it in the search file to race further)"
    ]


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({}, "oracle: exact expected scores, no calls"),
        ({"sampled": True}, "sampled from the simulated ground truth, no calls"),
    ],
)
def test_an_oracle_search_says_it_makes_no_calls_rather_than_spent_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: dict[str, bool], said: str
) -> None:
    # Every line read "spent 0 calls, 0 tokens, $0" (the new-user test), as if the
    # provider had answered nothing yet.
    path = write(tmp_path, small_space(evaluations=3))
    search = Search(path, simulate=True, oracle=True, run_dir=tmp_path / "run", **options)
    evaluated = events_of(search, "evaluated")
    assert {e.data["mode"] for e in evaluated} == {search.mode}
    for event in evaluated:
        _progress(event)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    assert all(line.endswith(f"; {said})") and "spent" not in line for line in lines), lines


def test_a_search_that_calls_still_says_what_it_spent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = {"evaluated": 1, "planned": 2, "key": "m1s1", "score": 50.0, "mode": "simulated"}
    data |= {"best_key": "m1s1", "best_objective": 50.0}
    _progress(
        SearchEvent("evaluated", data | {"spent": {"calls": 1200, "tokens": 9, "dollars": 0.5}})
    )
    assert capsys.readouterr().err == (
        "[1/2] m1s1: 50.00 (best so far m1s1: 50.00; spent 1,200 calls, 9 tokens, $0.500)\n"
    )
