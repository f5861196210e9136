"""--estimate on a run directory that holds the search already: what its earlier runs sent
and what is left, beside the whole search's expected spend; nothing written. On one that
holds another search, the refusal the run would get, in its words."""

from __future__ import annotations

from pathlib import Path

import anyio
import orjson
import pytest

from archon_async import ConfigError
from archon_async.callpath import SpendJournal
from tests.cli_process import run_cli
from tests.search._spaces import simulated_search, small_space, write


def test_the_estimate_of_a_stopped_search_says_what_is_spent_and_left(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(evaluations=6, dev_questions=6, held_out_questions=0))
    fresh = simulated_search(path, tmp_path / "other").estimate()
    assert "spent" not in fresh and "remaining" not in fresh
    assert not (tmp_path / "other").exists()
    run_dir = tmp_path / "run"
    stopped = anyio.run(simulated_search(path, run_dir, budget={"calls": 120}).run)
    assert stopped["stopped_by"]
    listing = sorted(p.name for p in run_dir.iterdir())
    estimate = simulated_search(path, run_dir).estimate()
    journal = SpendJournal.totals(run_dir / "spend.journal.jsonl")
    assert journal is not None
    assert estimate["spent"]["calls"] == journal.calls == stopped["spend"]["calls"]
    expected = estimate["calls"]["expected"]
    assert estimate["remaining"]["calls"] == max(0, expected - journal.calls)
    assert sorted(p.name for p in run_dir.iterdir()) == listing  # the estimate wrote nothing
    # Another search's directory is no estimate's: the run would be refused there.
    with pytest.raises(ConfigError, match="holds another search: seed is 0 there, 3 here"):
        simulated_search(path, run_dir, seed=3).estimate()


def test_a_resumed_searchs_progress_counts_its_earlier_runs(tmp_path: Path) -> None:
    # One pass: no final ranking (no final-ranking questions), so the last evaluation's
    # spend is the run's.
    data = small_space(evaluations=6, dev_questions=6, held_out_questions=0, racing={"draws": 1})
    path = write(tmp_path, data)
    run_dir = tmp_path / "run"
    anyio.run(simulated_search(path, run_dir, budget={"calls": 120}).run)
    before = SpendJournal.totals(run_dir / "spend.journal.jsonl")
    assert before is not None and before.calls >= 120
    search = simulated_search(path, run_dir)

    async def spent() -> list[int]:
        return [e.data["spent"]["calls"] async for e in search.events() if e.kind == "evaluated"]

    calls = anyio.run(spent)
    report = search.result or {}
    # As the budget counts: the earlier runs' calls, then this run's on top.
    assert calls and calls[0] >= before.calls
    assert calls[-1] == before.calls + report["sent"]["calls"] == report["spend"]["calls"]


def test_the_estimate_of_a_finished_search_leaves_nothing(tmp_path: Path) -> None:
    """A search run to its end, estimated again: the same command sends nothing more (it
    ends from its records and the cache), so nothing remains; ``remaining`` said the
    expected spend less what was sent, as if the search could run again."""
    path = write(tmp_path, small_space(evaluations=4, dev_questions=4, held_out_questions=0))
    run_dir = tmp_path / "run"
    report = anyio.run(simulated_search(path, run_dir).run)
    assert report["stopped_by"] is None
    estimate = simulated_search(path, run_dir).estimate()
    assert estimate["spent"]["calls"] == report["spend"]["calls"] > 0
    assert estimate["remaining"] == {"calls": 0, "tokens": 0, "dollars": 0.0}
    assert f"{run_dir} holds this search, finished" in estimate["note"]
    # More evaluations go on from it: then something remains.
    further = simulated_search(path, run_dir, evaluations=8).estimate()
    assert further["remaining"]["calls"] > 0


def test_the_estimate_on_another_searchs_run_directory_is_refused_as_the_run_is(
    tmp_path: Path,
) -> None:
    """A new user's --estimate on a directory holding a search of another space printed a
    fresh estimate, exit status 0, and the run then refused to start: the estimate now
    refuses as the run does (one function decides, the same words, exit status 1), and
    still estimates where the run would resume."""
    data = small_space(evaluations=3, dev_questions=4, held_out_questions=0)
    data["search_algorithm_choice"] = "random_search"  # as simulated_search runs it
    path = write(tmp_path, data)
    other = write(tmp_path, data | {"maximum_inference_calls": 11}, name="other.json")
    run_dir = tmp_path / "run"
    anyio.run(simulated_search(path, run_dir, budget={"calls": 30}).run)
    listing = {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()}

    def search(space: Path, *options: str) -> tuple[int, str, str]:
        args = ("search", str(space), "--simulate", "--run-dir", str(run_dir), *options)
        done = run_cli(*args, "--budget-calls", "30")
        return done.returncode, done.stdout, done.stderr

    status, out, refused = search(other, "--estimate")
    run_status, _, run_refused = search(other)
    assert status == run_status == 1 and not out
    assert "holds another search: maximum_inference_calls is 12 there, 11 here" in refused
    assert refused == run_refused
    assert {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()} == listing
    # The search the directory holds: an estimate, with what its earlier run spent.
    status, out, err = search(path, "--estimate")
    assert status == 0, err
    estimate = orjson.loads(out)
    assert estimate["spent"]["calls"] >= 30 and "remaining" in estimate
