"""`search` without its extra installed says which extra to install, not a traceback."""

from __future__ import annotations

import sys

import pytest

from archon_async import cli


def test_search_without_numpy_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(sys.modules):
        if name.startswith("archon_async.search"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "numpy", None)  # importing it now raises ImportError
    code = cli.main(["search", "example.json", "--simulate", "--oracle"])
    err = capsys.readouterr().err
    assert code == 1
    assert "pip install 'archon-async[search]'" in err and "numpy" in err
    assert "Traceback" not in err
