"""A search on the simulated provider, killed by SIGKILL mid-way and run again with the same
command, ends with the leaderboard of an uninterrupted run with the same seed."""

from __future__ import annotations

import shutil
from pathlib import Path

import anyio
import orjson
import pytest

from archon_async.search import Search
from tests.cli_process import expect_status, run_cli, start_cli
from tests.search._spaces import leaderboard, sampled_search, small_space, write

#: What an evaluation is, whatever the cache held: its actual spend (calls, tokens,
#: dollars, cache-hit share and the calls by model) depends on what was drawn before.
_SAME = (
    "key",
    "n",
    "params",
    "score",
    "ci",
    "objective",
    "questions",
    "calls_per_query",
    "stopped_early",
    "mode",
)


def _board(run_dir: Path) -> list[dict[str, object]]:
    return [{k: line[k] for k in _SAME} for line in leaderboard(run_dir)]


def test_a_simulated_search_killed_mid_evaluation_resumes_to_the_same_scores(
    tmp_path: Path,
) -> None:
    # One pass (no final ranking): what is checked is the evaluations' scores.
    data = small_space(
        evaluations=6, parallel=2, dev_questions=12, held_out_questions=0, racing={"draws": 1}
    )
    path = write(tmp_path, data)
    args = ["search", str(path), "--simulate", "--algorithm", "tpe", "--seed", "3", "--quiet"]
    whole = expect_status(run_cli(*args, "--run-dir", str(tmp_path / "whole")))
    cut = tmp_path / "cut"
    board = cut / "leaderboard.jsonl"
    with start_cli(*args, "--run-dir", str(cut), logs=tmp_path / "logs") as child:
        child.wait_until(lambda: board.exists() and len(board.read_bytes().splitlines()) >= 2)
        child.kill()
    # Killed with architectures in flight: their calls so far are in the cache.
    assert 2 <= len(board.read_bytes().splitlines()) < 6
    done = expect_status(run_cli(*args, "--run-dir", str(cut)))
    expected = _board(tmp_path / "whole")
    assert len({line["score"] for line in expected}) > 1  # scores that can differ
    assert _board(cut) == expected
    assert orjson.loads(done.stdout)["best"]["key"] == orjson.loads(whole.stdout)["best"]["key"]


@pytest.mark.parametrize("seed", [0, 1])
def test_a_search_killed_with_part_of_a_batch_recorded_stops_the_same_ones_early(
    tmp_path: Path, seed: int
) -> None:
    # A kill keeps the evaluations of the batch in flight that had finished. The early
    # stopping threshold of the rest must not see them: the uninterrupted run did not.
    space = small_space(
        evaluations=16,
        parallel=4,
        dev_questions=60,
        held_out_questions=0,
        early_stopping={"z": 0.3, "first_fraction": 0.3},
    )
    path = write(tmp_path, space)

    def search(run_dir: Path) -> Search:
        return sampled_search(path, run_dir, seed=seed, algorithm="random_search")

    whole = tmp_path / "whole"
    anyio.run(search(whole).run)
    lines = leaderboard(whole)
    assert any(line["stopped_early"] for line in lines)
    # Killed in the second batch after its strongest architecture was recorded.
    cut = tmp_path / "cut"
    cut.mkdir()
    for name in ("search.json", "ranking.json"):
        shutil.copy(whole / name, cut / name)
    second = [line for line in lines if 4 < int(line["n"]) <= 8]
    strongest = max(second, key=lambda line: line["ci"][0])
    kept = [line for line in lines if int(line["n"]) <= 4] + [strongest]
    (cut / "leaderboard.jsonl").write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in kept))
    anyio.run(search(cut).run)
    assert _board(cut) == _board(whole)
