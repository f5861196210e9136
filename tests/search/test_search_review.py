"""What a new user's review of the search (issue 13) found: each test pins a defect that
was fixed (bad input said before any call, question sets that really are disjoint, a report
that reads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_async import ConfigError
from archon_async.search import Search
from tests.search._spaces import small_space, write


def test_a_file_without_a_benchmark_is_refused_unless_one_is_given(tmp_path: Path) -> None:
    data = small_space()
    del data["benchmark"]
    path = write(tmp_path, data)
    with pytest.raises(ConfigError, match=r"no benchmark: set \"benchmark\".*--benchmark"):
        Search(path, simulate=True, oracle=True, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    assert Search(path, simulate=True, oracle=True, benchmark="gsm8k").benchmark == "gsm8k"


def test_our_validators_messages_read_without_pydantics_prefix(tmp_path: Path) -> None:
    path = write(tmp_path, {**small_space(), "model_top_k_choices": [9]})
    with pytest.raises(ConfigError) as raised:
        Search(path, simulate=True, oracle=True)
    assert "asks for the top 9 models" in str(raised.value)
    assert "Value error" not in str(raised.value)


def _counts(search: Search) -> tuple[int, int, int]:
    dev, final = search.questions()
    return len(dev), len(final), len(search.report_questions())


def test_without_dataset_samples_the_benchmark_is_split_in_three_disjoint_sets(
    tmp_path: Path,
) -> None:
    # gsm8k has 1319 questions. The default used to be all of them for the search, which
    # left the final ranking and the held-out report with none.
    path = write(tmp_path, small_space())
    search = Search(path, simulate=True, oracle=True, sampled=True)
    dev, final, report = _counts(search)
    assert (dev, final, report) == (791, 264, 264)
    ids = [item.id for part in (*search.questions(), search.report_questions()) for item in part]
    assert len(set(ids)) == len(ids) == dev + final + report


@pytest.mark.parametrize(
    ("keys", "extension"),
    [
        ({"dataset_sample_for_search": 0.9, "dataset_sample_for_final_ranking": 0.2}, {}),
        ({"dataset_sample_for_search": 1.0}, {}),
        ({}, {"dev_questions": 5000}),
        ({}, {"dev_questions": 1000, "held_out_questions": 200, "report_questions": 200}),
    ],
)
def test_question_sets_that_do_not_fit_the_benchmark_are_refused_before_any_call(
    tmp_path: Path, keys: dict[str, float], extension: dict[str, int]
) -> None:
    path = write(tmp_path, small_space(**extension) | keys)
    with pytest.raises(ConfigError, match=r"disjoint, but gsm8k has 1319: lower"):
        Search(path, simulate=True, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_set_question_counts_that_fit_are_kept_and_the_report_takes_what_is_left(
    tmp_path: Path,
) -> None:
    keys = {"dataset_sample_for_search": 0.7, "dataset_sample_for_final_ranking": 0.2}
    search = Search(write(tmp_path, small_space() | keys), simulate=True, oracle=True, sampled=True)
    assert _counts(search) == (923, 264, 132)
