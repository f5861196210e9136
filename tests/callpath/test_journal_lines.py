"""The spend journal's lines: what `SpendJournal` writes is read back as the same values."""

from __future__ import annotations

from pathlib import Path

import orjson

from archon_async.callpath import SpendJournal
from archon_async.core import CallRecord
from tests.conftest import call_record


def record(model: str, tokens_in: int, tokens_out: int) -> CallRecord:
    return call_record(model, tokens_in, tokens_out, provider="OpenAI_API")


def test_each_line_is_json_of_the_request_and_its_spend(tmp_path: Path) -> None:
    path = tmp_path / "spend.jsonl"
    journal = SpendJournal(path, prices={"gpt-4o": (2.5, 10.0)})
    odd = 'a "quoted" model é\n'  # written as JSON escapes it, read back the same
    first = journal.sent(3, "gpt-4o")
    second = journal.sent(1, odd)
    journal.done(first, [record("gpt-4o", 1000, 200)], calls=3)
    third = journal.sent(2)
    journal.close()
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert lines == [
        {"sent": first, "n": 3, "model": "gpt-4o"},
        {"sent": second, "n": 1, "model": odd},
        {"done": first, "calls": 3, "in": 1000, "out": 200, "usd": 0.0045},
        {"sent": third, "n": 2, "model": ""},
    ]
    assert len({first, second, third}) == 3
    by_model = SpendJournal.by_model(path)
    assert by_model is not None
    assert (by_model["gpt-4o"].calls, by_model["gpt-4o"].unfinished) == (3, 0)
    assert (by_model[odd].calls, by_model[odd].unfinished) == (1, 1)
    assert (by_model[""].calls, by_model[""].unfinished) == (2, 2)
