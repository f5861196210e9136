"""The model ranking's live progress names each model as the search file does, by its
config's name (issue 13, a new user's run: it showed provider ids, e.g.
``Qwen/Qwen2-72B-Instruct`` for the file's ``qwen2-72b-instruct``, whose config is named
``Qwen2-72B-Instruct``); the events carry both, ranking.json stays keyed by the id."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from archon_async._cli_search import _progress
from archon_async.search import Search
from tests.search._spaces import events_of, small_space, write


def test_the_ranking_lines_name_the_models_as_the_file_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, small_space(evaluations=1, dev_questions=3, held_out_questions=0))
    search = Search(path, simulate=True, run_dir=tmp_path / "run", algorithm="random_search")
    names = {m.model: m.name for m in search.models}
    assert all(name != model for model, name in names.items())  # e.g. Qwen/... against Qwen2-...
    events = events_of(search)
    done = [e.data for e in events if e.kind == "ranking" and "model" in e.data]
    assert [d["name"] for d in done] == [names[d["model"]] for d in done]
    ranked = next(e.data for e in events if e.kind == "ranked")
    assert ranked["names"] == [names[model] for model in ranked["order"]]
    assert set(ranked["ranking"]) == set(names)  # ranking.json's keys: the provider ids
    for event in events:
        if event.kind in ("ranking", "ranked"):
            _progress(event)
    lines = capsys.readouterr().err.splitlines()
    shown = [re.match(r"\[ranking \d/4\] (\S+):", line) for line in lines[1:5]]
    assert sorted(m.group(1) for m in shown if m) == sorted(names.values())
    assert lines[5] == "[ranking] " + ", ".join(ranked["names"])
    assert not any(model in "\n".join(lines) for model in names)
