"""A benchmark too small for the default question sets (issue 13, a new user's
3-question benchmark): the dev and final-ranking questions left the report's held-out set
empty without a word. Refused before the run directory is made, with the sizes and what
to change; a report set of 0 asked for, or one that fits, is kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archon_async import ConfigError
from archon_async.search import Search
from tests.cli_process import run_cli
from tests.search._spaces import small_space, write


def _math(tmp_path: Path, questions: int) -> Path:
    """A MATH benchmark of ``questions`` questions (MATH's fields: problem, solution)."""
    data = tmp_path / "math.jsonl"
    lines = [
        json.dumps({"problem": f"What is {i} + {i}?", "solution": f"\\boxed{{{2 * i}}}"})
        for i in range(questions)
    ]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return data


def _space(tmp_path: Path, **extension: object) -> Path:
    return write(tmp_path, small_space(evaluations=1, **extension) | {"benchmark": "math"})


def test_a_default_report_set_left_empty_is_refused_with_the_sizes(tmp_path: Path) -> None:
    path, data = _space(tmp_path), _math(tmp_path, 3)
    with pytest.raises(ConfigError) as raised:
        Search(path, simulate=True, data=data, run_dir=tmp_path / "run")
    message = str(raised.value)
    assert "math has 3 questions: the dev (2) and final-ranking (1) questions leave none" in message
    assert "set report_questions to 0" in message and "dataset_sample_for_search" in message
    done = run_cli("search", str(path), "--data", str(data), "--simulate", "--estimate")
    assert done.returncode == 1 and "leave none for the report" in done.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "space.search").exists()


def test_no_report_set_asked_for_or_one_that_fits_is_kept(tmp_path: Path) -> None:
    asked = Search(_space(tmp_path, report_questions=0), simulate=True, data=_math(tmp_path, 3))
    assert [len(part) for part in asked.questions()] == [2, 1]
    assert asked.report_questions() == []
    fits = Search(_space(tmp_path), simulate=True, data=_math(tmp_path, 4))
    assert len(fits.report_questions()) == 1
