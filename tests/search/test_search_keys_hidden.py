"""A search given its keys as a dict holds them hidden, as an Engine and a CallPath do
(found by the new-user test: ``Search(..., keys={"OPENAI_API_KEY": ["sk-..."]})`` kept the
dict as it came, so ``vars(search)``, a debugger or a traceback's locals showed the keys)."""

from __future__ import annotations

from pathlib import Path

from archon_async._keys import load_key_sets
from archon_async.search import Search
from archon_async.search._inputs import check_keys
from tests.search._spaces import small_space, write

SECRETS = ["tk-search-secret-0001", "tk-search-secret-0002"]


def test_keys_given_as_a_dict_are_never_shown(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(evaluations=3))
    search = Search(path, run_dir=tmp_path / "run", keys={"TOGETHER_API_KEY": SECRETS})
    shown = f"{vars(search)!r} {search.keys!r}"
    assert not any(secret in shown for secret in SECRETS)
    check_keys(search)  # still a key for each provider: no ConfigError
    loaded = load_key_sets(search.keys, environ={}, dotenv_path=None)
    assert [key.get_secret_value() for key in loaded["TOGETHER_API_KEY"]] == SECRETS
