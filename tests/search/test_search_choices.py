"""A search setting that takes one of named choices says, when given another, the choices
and the one meant (issue 13, a demanding user's typos): the file's algorithm, final stage,
objective and scoring read "Input should be 'random_search', ... or 'slice_search'", and
--algorithm slice listed the algorithms without the one meant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archon_async import ConfigError
from archon_async.search import Search, search_file_from_dict
from tests.cli_process import run_cli
from tests.search._spaces import small_space, write


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"search_algorithm_choice": "bayes"}, "search_algorithm_choice: 'bayes' is not one of: "),
        ({"archon_async": {"final_choices": ["verifer"]}}, "final_choices[0]: 'verifer' is not"),
        ({"archon_async": {"objective": "score_per_dolar"}}, "objective: 'score_per_dolar' is"),
    ],
)
def test_a_choice_misspelt_in_the_file_names_the_one_meant(
    change: dict[str, Any], said: str
) -> None:
    data = small_space()
    ours = change.pop("archon_async", {})
    data = data | change
    data["archon_async"] = data["archon_async"] | ours
    with pytest.raises(ConfigError) as raised:
        search_file_from_dict(data)
    message = str(raised.value)
    assert said in message and "Input should be" not in message
    meant = {"bayes": "bayesian_optimization", "verifer": "verifier"}
    word = said.split("'")[1]
    assert f"did you mean {meant.get(word, 'score_per_dollar')!r}?" in message


def test_a_choice_nothing_like_any_lists_them_without_a_guess() -> None:
    data = small_space()
    data["archon_async"]["scoring"] = "xyz"
    with pytest.raises(ConfigError, match=r"scoring: 'xyz' is not one of: auto, pairwise, single$"):
        search_file_from_dict(data)


def test_an_algorithm_misspelt_on_the_command_line_names_the_one_meant(tmp_path: Path) -> None:
    path = write(tmp_path, small_space())
    done = run_cli("search", str(path), "--simulate", "--oracle", "--algorithm", "slice")
    assert done.returncode == 1
    assert "unknown search algorithm 'slice'; did you mean 'slice_search'? choose one of:" in (
        done.stderr
    )
    with pytest.raises(ConfigError, match="'grid'; did you mean 'grid_search'"):
        Search(path, simulate=True, oracle=True, algorithm="grid")
