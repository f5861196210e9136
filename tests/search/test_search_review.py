"""What a new user's review of the search (issue 13) found: each test pins a defect that
was fixed (bad input said before any call, question sets that really are disjoint, a report
that reads)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archon_async import ConfigError
from archon_async.search import Search
from tests.conftest import run_cli
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


def test_a_count_above_the_benchmark_is_refused_as_asked_not_cut_to_fit(tmp_path: Path) -> None:
    # Archon's dataset_sample as a count: 5,000 of gsm8k's 1,319 used to read as 1,319 (all
    # of them, silently, and the refusal said "dev (1319)", which the file never asked).
    keys = {"dataset_sample_for_search": 5000}
    path = write(tmp_path, small_space(held_out_questions=0, report_questions=0) | keys)
    with pytest.raises(ConfigError) as refused:
        Search(path, simulate=True, run_dir=tmp_path / "run")
    assert "the dev (5000), final-ranking (0) and report (0) questions" in str(refused.value)
    assert "gsm8k has 1319: lower dataset_sample_for_search" in str(refused.value)


def test_an_unknown_benchmark_names_the_file_and_the_benchmark_meant(tmp_path: Path) -> None:
    path = write(tmp_path, small_space() | {"benchmark": "gsm9k"})
    with pytest.raises(ConfigError) as refused:
        Search(path, simulate=True, run_dir=tmp_path / "run")
    message = str(refused.value)
    assert message.startswith(f"{path}, benchmark: unknown benchmark 'gsm9k'; "), message
    assert "did you mean 'gsm8k'? choose one of: gsm8k, math" in message
    assert not (tmp_path / "run").exists()


def test_an_unknown_benchmark_argument_is_not_said_to_be_the_files(tmp_path: Path) -> None:
    """--benchmark gsm9k was reported as the file's ``benchmark`` key (found by this stop's
    attacker): a user would look for it in a file that names gsm8k."""
    path = write(tmp_path, small_space())
    with pytest.raises(ConfigError) as refused:
        Search(path, simulate=True, benchmark="gsm9k", run_dir=tmp_path / "run")
    message = str(refused.value)
    assert message.startswith("--benchmark (Search(benchmark=...)): unknown benchmark 'gsm9k'")
    assert str(path) not in message and "did you mean 'gsm8k'?" in message


def test_set_question_counts_that_fit_are_kept_and_the_report_takes_what_is_left(
    tmp_path: Path,
) -> None:
    keys = {"dataset_sample_for_search": 0.7, "dataset_sample_for_final_ranking": 0.2}
    search = Search(write(tmp_path, small_space() | keys), simulate=True, oracle=True, sampled=True)
    assert _counts(search) == (923, 264, 132)


def test_a_benchmark_that_is_not_shipped_is_searched_from_its_data(tmp_path: Path) -> None:
    data = tmp_path / "math.jsonl"
    data.write_text(
        "".join(
            json.dumps({"problem": f"What is {i} + {i}?", "solution": f"\\\\boxed{{{2 * i}}}"})
            + "\n"
            for i in range(10)
        )
    )
    space = {
        **small_space(evaluations=1, dev_questions=3, held_out_questions=0),
        "benchmark": "math",
    }
    path = write(tmp_path, space)
    done = run_cli(
        "search", str(path), "--data", str(data), "--simulate", "--quiet",
        "--run-dir", str(tmp_path / "run"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["benchmark"] == "math" and report["evaluations"] == 1
    assert report["best"]["questions"] == 3
    search = Search(path, simulate=True, oracle=True, sampled=True, data=data)
    assert [len(part) for part in search.questions()] == [3, 0]


def test_the_search_curve_labels_both_ends_of_both_axes(tmp_path: Path) -> None:
    import re

    import anyio

    path = write(tmp_path, small_space(evaluations=12))
    report = anyio.run(Search(path, simulate=True, oracle=True, run_dir=tmp_path / "run").run)
    page = (tmp_path / "run" / "report.html").read_text()
    curve = next(svg for svg in re.findall(r"<svg.*?</svg>", page, re.S) if "Search curve" in svg)
    lines = (tmp_path / "run" / "leaderboard.jsonl").read_text().splitlines()
    objectives = [json.loads(line)["objective"] for line in lines]
    # Ticks run from at or below the least to at or above the greatest, on both axes.
    y = [float(t) for t in re.findall(r'class="y-tick"[^>]*>([^<]*)</text>', curve)]
    x = [int(t) for t in re.findall(r'class="x-tick"[^>]*>([^<]*)</text>', curve)]
    assert y[0] <= min(objectives) < max(objectives) <= y[-1] and len(y) >= 3
    assert x[0] <= 1 < report["evaluations"] <= x[-1] and len(x) >= 3
