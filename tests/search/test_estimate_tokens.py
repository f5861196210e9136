"""``--estimate`` on a real endpoint: reply tokens measured where the search already sent
calls, else the search file's ``answer_tokens``, said so with how to set it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from archon_async.search import Search
from archon_async.search._spend import SPEND_JOURNAL
from tests.search._spaces import served_models, served_space, write


def _estimate(tmp_path: Path, name: str, **extension: Any) -> dict[str, Any]:
    space = served_space(served_models("http://127.0.0.1:9/v1"), iterations=3, dev=5)
    space["archon_async"] |= extension
    path = write(tmp_path, space, f"{name}.json")
    return Search(path, run_dir=tmp_path / name).estimate()


def test_reply_tokens_are_measured_from_the_calls_a_search_sent(tmp_path: Path) -> None:
    """A new user's replies were about 100 tokens: the estimate assumed 400 (4x over)."""
    assumed = _estimate(tmp_path, "assumed")
    assert "answer_tokens=400" in assumed["note"]
    assert "set archon_async.answer_tokens in the search file" in assumed["note"]
    # The model ranking sent 8 calls that answered 100 tokens each (one still in flight
    # when the search was stopped), as the run directory's spend journal records them.
    journal = tmp_path / "measured" / SPEND_JOURNAL
    journal.parent.mkdir()
    lines = [{"sent": f"r{i}", "n": 1, "model": "alpha"} for i in range(9)]
    lines += [{"done": f"r{i}", "calls": 1, "in": 60, "out": 100, "usd": 0.0} for i in range(8)]
    journal.write_text("".join(json.dumps(line) + "\n" for line in lines))
    measured = _estimate(tmp_path, "measured")
    assert "replies of 100 tokens a call, measured on the 8 calls" in measured["note"]
    assert "answer_tokens=" not in measured["note"]
    assert measured["calls"] == assumed["calls"]
    assert measured["tokens"]["expected"] < assumed["tokens"]["expected"]
    # The same as a search file that says its replies are 100 tokens.
    told = _estimate(tmp_path, "told", answer_tokens=100)
    assert measured["tokens"] == told["tokens"]
