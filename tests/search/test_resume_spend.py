"""report.json's spend after a killed search is resumed: every call any run sent, as the
spend journal (and so the budget's hard cap) counts them."""

from __future__ import annotations

from pathlib import Path

import anyio
import orjson

from archon_async.callpath import SpendJournal
from archon_async.search import Search
from tests.search._spaces import MODELS, small_space, write


def _killed_run_journal(run_dir: Path) -> None:
    """What a run killed during its model ranking left: a journal with two answered
    requests (answers the cache never got) and three calls in flight."""
    run_dir.mkdir()
    journal = SpendJournal(run_dir / "spend.journal.jsonl")
    first = journal.sent(1, MODELS[0])
    journal.sent(3, MODELS[1])  # in flight at the kill: no reply recorded
    second = journal.sent(1, MODELS[1])
    journal.done(first, [], calls=1)
    journal.done(second, [], calls=1)
    journal.close()


def test_the_report_counts_the_calls_a_killed_run_sent(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(evaluations=3, dev_questions=4, held_out_questions=0))
    run_dir = tmp_path / "run"
    _killed_run_journal(run_dir)
    search = Search(path, simulate=True, run_dir=run_dir, algorithm="random_search")
    report = anyio.run(search.run)
    journal = SpendJournal.totals(run_dir / "spend.journal.jsonl")
    assert journal is not None and journal.unfinished == 3
    spend = report["spend"]
    # This run's calls plus the killed run's 5 (2 answered, 3 in flight).
    assert report["sent"]["calls"] + 5 == journal.calls
    assert spend["calls"] == journal.calls
    assert spend["tokens"] == journal.tokens
    by_model = spend["by_model"]
    assert sum(row["calls"] for row in by_model.values()) == spend["calls"]
    assert spend["unrecorded"] == {
        "calls": 5,
        "tokens": 0,
        "dollars": 0.0,
        "in_flight_at_a_kill": 3,
    }
    # The cap's count of every run is the same number.
    assert orjson.loads((run_dir / "spent.json").read_bytes())["calls"] == journal.calls


def test_a_search_with_no_kill_has_nothing_unrecorded(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(evaluations=3, dev_questions=4, held_out_questions=0))
    search = Search(path, simulate=True, run_dir=tmp_path / "run", algorithm="random_search")
    report = anyio.run(search.run)
    assert report["spend"]["calls"] == report["sent"]["calls"] > 0
    assert report["spend"]["unrecorded"]["calls"] == 0
    assert "(not recorded)" not in report["spend"]["by_model"]  # every request names it
