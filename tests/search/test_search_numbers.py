"""Numbers given to a search are what they say or refused (issue 13, a new user's bad
input): `Search`'s numeric arguments are whole numbers in their range (0 is no "use the
file's value": None is), and a refusal names the argument, what it takes and what it is."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from archon_async import ConfigError
from archon_async.search import Search
from tests.search._spaces import small_space, write


@pytest.mark.parametrize(
    ("argument", "value", "allowed"),
    [
        ("parallel", 0, "at least 1 and at most 256"),
        ("parallel", -2, "at least 1 and at most 256"),
        ("parallel", 2.0, "whole number"),
        ("evaluations", 0, "at least 1"),
        ("evaluations", -1, "at least 1"),
        ("evaluations", "5", "whole number"),
        ("evaluations", True, "not a bool"),
    ],
)
def test_a_search_argument_out_of_range_is_refused_not_replaced_by_the_file(
    tmp_path: Path, argument: str, value: object, allowed: str
) -> None:
    path = write(tmp_path, small_space(evaluations=6, parallel=3))
    with pytest.raises(ConfigError) as raised:
        Search(path, simulate=True, oracle=True, run_dir=tmp_path / "run", **{argument: value})  # type: ignore[arg-type]
    message = str(raised.value)
    assert message.startswith(f"Search({argument}={value!r}): must be ")
    assert allowed in message and "None: the search file's" in message
    assert not (tmp_path / "run").exists()


def test_none_takes_the_files_value(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(evaluations=6, parallel=3))
    search = Search(path, simulate=True, oracle=True, parallel=None, evaluations=None)
    assert (search.parallel, search.evaluations) == (3, 6)


@pytest.mark.parametrize("seed", ["x", True, 1.5])
def test_a_bad_seed_is_named_as_the_argument_given(tmp_path: Path, seed: object) -> None:
    path = write(tmp_path, small_space())
    with pytest.raises(ConfigError) as raised:
        Search(path, simulate=True, oracle=True, seed=seed)  # type: ignore[arg-type]
    message = str(raised.value)
    assert message.startswith(f"Search(seed={seed!r}): must be a whole number")
    assert "simulation" in message.split("(", 2)[-1]  # only in what the seed seeds
    assert "archon_async.simulation.seed" not in message


def test_the_command_line_is_told_its_option(tmp_path: Path) -> None:
    from tests.cli_process import run_cli

    path = write(tmp_path, small_space(evaluations=2))
    done = run_cli("search", str(path), "--simulate", "--oracle", "--parallel", "300")
    assert done.returncode == 1 and not done.stdout
    assert done.stderr.startswith("archon-async: --parallel 300: must be a whole number of at")
    assert "at most 256" in done.stderr and "default: the search file's" in done.stderr
    assert "Search(" not in done.stderr


@pytest.mark.parametrize(
    ("budget", "said"),
    [({"calls": 0}, "budget.calls: must be a whole number of at least 1, not 0"),
     ({"dollars": "5"}, 'budget.dollars: must be a number above 0, not "5"')],
)  # fmt: skip
def test_a_bad_budget_argument_is_the_arguments_not_the_files(
    tmp_path: Path, budget: dict[str, object], said: str
) -> None:
    path = write(tmp_path, small_space())
    with pytest.raises(ConfigError) as raised:
        Search(path, simulate=True, oracle=True, budget=budget)
    assert str(raised.value).startswith(f"Search(), {said}")
    assert str(path) not in str(raised.value)


@pytest.mark.parametrize("seed", [-3, 2**32, 10**23])
def test_a_seed_out_of_numpys_range_is_refused_before_the_run_directory(
    tmp_path: Path, seed: int
) -> None:
    # A negative seed raised numpy's "expected non-negative integer", and one past 64 bits
    # orjson's "Integer exceeds 64-bit range", out of a run directory already written.
    path = write(tmp_path, small_space())
    with pytest.raises(ConfigError) as raised:
        Search(path, simulate=True, oracle=True, seed=seed, run_dir=tmp_path / "run")
    assert str(raised.value).startswith(
        f"Search(seed={seed!r}): must be a whole number of at least 0 and at most 4294967295"
    )
    assert not (tmp_path / "run").exists()


def test_a_simulation_seed_out_of_range_is_named_in_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, small_space(simulation={"seed": -1}))
    with pytest.raises(ConfigError, match=r"archon_async\.simulation\.seed: must be a whole"):
        Search(path, simulate=True, oracle=True)


@pytest.mark.parametrize("algorithm", ["tpe", "bayesian_optimization"])
def test_optunas_samplers_take_every_seed_in_range(tmp_path: Path, algorithm: str) -> None:
    # Any seed above 4,294 was refused by numpy under Optuna's sampler ("Seed must be
    # between 0 and 2**32 - 1"), a traceback once the run directory was written.
    path = write(tmp_path, small_space(algorithm=algorithm, evaluations=12, parallel=4))
    for seed in (5000, 2**32 - 1):
        report = anyio.run(Search(path, simulate=True, oracle=True, seed=seed,
                                  run_dir=tmp_path / f"run-{seed}").run)  # fmt: skip
        assert report["evaluations"] == 12


@pytest.mark.parametrize(
    ("argument", "value", "said"),
    [
        ("run_dir", 5, "Search(run_dir=5): must be a path (a str or a pathlib.Path), not int"),
        ("data", ["a.json"], "Search(data=['a.json']): must be a path"),
        ("benchmark", 5, "Search(benchmark=5): must be a name (a str), not int"),
        ("algorithm", Path("tpe"), "Search(algorithm=PosixPath('tpe')): must be a name"),
    ],
)
def test_a_path_or_name_argument_of_another_type_is_refused(
    tmp_path: Path, argument: str, value: object, said: str
) -> None:
    """Found by this stop's attacker: Search(run_dir=5) raised TypeError 'expected str,
    bytes or os.PathLike object' and Search(benchmark=5) AttributeError 'int' object has
    no attribute 'strip'."""
    space = write(tmp_path, small_space(evaluations=3))
    with pytest.raises(ConfigError) as refused:
        Search(space, simulate=True, oracle=True, **{argument: value})  # type: ignore[arg-type]
    assert str(refused.value).startswith(said), str(refused.value)
