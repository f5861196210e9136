"""A spend journal whose last line was cut (a full disk, a crash of the machine) still
counts every request a later run records (found by the new-user test: the next run's first
record was appended to the cut line, the two read as one bad line, so a request the
provider received was never counted in ``spent_all_runs`` or a search's budget)."""

from __future__ import annotations

from pathlib import Path

from archon_async.callpath import SpendJournal


def test_a_cut_last_line_does_not_swallow_the_next_record(tmp_path: Path) -> None:
    path = tmp_path / "answers.jsonl.spend.jsonl"
    first = SpendJournal(path)
    first.done(first.sent(3, "m"), [], calls=3)
    first.close()
    path.write_bytes(path.read_bytes()[:-12])  # the "done" line cut: its request unfinished
    second = SpendJournal(path)
    second.sent(2, "m")  # in flight when this run too is killed
    second.close()
    totals = SpendJournal.totals(path)
    assert totals is not None
    assert (totals.calls, totals.unfinished) == (5, 5)  # both requests counted


def test_an_empty_or_whole_journal_gets_no_blank_line(tmp_path: Path) -> None:
    path = tmp_path / "spend.jsonl"
    path.write_bytes(b"")
    for _ in range(2):
        journal = SpendJournal(path)
        journal.done(journal.sent(1, "m"), [], calls=1)
        journal.close()
    assert b"\n\n" not in path.read_bytes() and not path.read_bytes().startswith(b"\n")
