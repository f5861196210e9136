"""`archon-async search` without the search extra says which package to install; a module
of our own that fails to import is not blamed on the extra."""

from __future__ import annotations

import sys

import pytest

from archon_async import cli
from archon_async._exceptions import ConfigError


def _forget_search(monkeypatch: pytest.MonkeyPatch) -> None:
    # Import the search anew in this test (monkeypatch puts the modules back after it).
    for name in [name for name in sys.modules if name.startswith("archon_async.search")]:
        monkeypatch.delitem(sys.modules, name)


def _search_args(tmp_path: object) -> list[str]:
    return ["search", "space.json", "--simulate", "--oracle", "--run-dir", str(tmp_path)]


def test_missing_extra_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    _forget_search(monkeypatch)
    monkeypatch.setitem(sys.modules, "numpy", None)  # as if the extra were not installed
    args = cli._parser().parse_args(_search_args(tmp_path))
    with pytest.raises(ConfigError, match=r"search extra \(numpy is missing\)"):
        args.handler(args)


def test_our_own_broken_module_is_not_called_a_missing_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    _forget_search(monkeypatch)
    monkeypatch.setitem(sys.modules, "archon_async.search._run", None)
    args = cli._parser().parse_args(_search_args(tmp_path))
    with pytest.raises(ImportError) as raised:
        args.handler(args)
    assert not isinstance(raised.value, ConfigError)
    assert raised.value.name == "archon_async.search._run"
