"""A search file's text is read as an architecture's file is (issue 13, found by this
stop's attacker): a UTF-8 BOM is fine (Windows editors write one; it was refused as
"invalid JSON: Unexpected UTF-8 BOM"), and a key repeated in one object (the second
silently won), nesting beyond 64 levels (a RecursionError traceback) or bytes that are
not UTF-8 are refused naming the file and the place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archon_async import ConfigError
from archon_async.search import Search
from tests.search._spaces import small_space


def _search(path: Path) -> Search:
    return Search(path, simulate=True, oracle=True, run_dir=path.parent / "run")


def test_a_search_file_with_a_bom_loads(tmp_path: Path) -> None:
    path = tmp_path / "space.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(small_space(evaluations=3)).encode())
    assert _search(path).settings.benchmark == "gsm8k"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            json.dumps(small_space(evaluations=3))[:-1] + ', "benchmark": "mt_bench"}',
            "the top level: the key 'benchmark' appears more than once",
        ),
        ("[" * 5000 + "]" * 5000, "nests far deeper than a configuration can"),
        ('{"benchmark": "gsm8k\xff"}', "line 1, column 21: the file is not UTF-8 text"),
    ],
)
def test_search_file_text_refused(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "space.json"
    path.write_bytes(text.encode("latin-1") if "\xff" in text else text.encode())
    with pytest.raises(ConfigError, match=said) as caught:
        _search(path)
    assert str(path) in str(caught.value)
