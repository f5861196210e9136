"""`Search`: one architecture search, from the search file to the run directory's outputs.

    search = Search("space.json", simulate=True, oracle=True, seed=1)
    async for event in search.events():      # live progress
        print(event.kind, event.data)
    # or: result = await search.run()

The model ranking comes first (each model alone), then the algorithm proposes candidates
in batches of ``parallel``; each batch is evaluated concurrently and recorded line by line.
Run again with the same arguments, a killed search replays its record (no evaluation runs
twice) and continues to the same result.

This module holds the search's settings and public methods; the run itself is in
`archon_async.search._loop`, the evaluators in `._evaluators`, the budget in `._spending`
and the input checks in `._inputs`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .._exceptions import ConfigError
from .._keys import hidden_keys
from .._output_lock import folder_problem, make_folder, output_lock, output_lock_path
from .._pricing import usd
from .._progress import BatchStats
from .._redact import redacted_urls
from ._algorithms import check_algorithm
from ._effects import Effects
from ._evaluators import simulation_settings
from ._inputs import (
    check_arguments,
    check_endpoints,
    check_judging,
    check_keys,
    check_names,
    check_planned,
    check_prices,
    resolve,
    unpriced_models,
)
from ._load import load_search_file, validation_error
from ._loop import SearchEvent, search_events
from ._models import ModelRef
from ._questions import QuestionSets
from ._settings import Budget, SearchFile
from ._space import Space
from ._spending import Spending, search_budget, spent_earlier

__all__ = ["Search", "SearchEvent", "benchmark_name"]

#: Archon's benchmark names that differ from ours.
_ARCHON_BENCHMARKS = {"arena_hard_auto": "arena_hard"}


def benchmark_name(name: str) -> str:
    """Our name of a benchmark Archon's search files name."""
    key = name.strip().lower().replace("-", "_")
    return _ARCHON_BENCHMARKS.get(key, key)


class Search:
    """An architecture search (ITAS) over the space of a search file.

    Args:
        space_file: an Archon search configuration (with our optional section).
        benchmark: overrides the file's benchmark.
        data: the benchmark's data (a path) where it is not shipped, or to replace it.
        algorithm: overrides the file's algorithm.
        run_dir: where the record and outputs go (default: our section's ``run_dir``, else
            ``<base_output_directory>/<file stem>``, else ``<file stem>.search``).
        seed: seeds the algorithm, the question subsets and the simulation.
        simulate: use the simulated provider and ground truth (nothing is paid).
        oracle: with ``simulate``, score by the exact expected score (no calls at all).
        sampled: with ``oracle``, draw each dev question's outcome from the ground truth
            instead (`SampledEvaluator`): the noise of a run on the simulated provider,
            still no calls.
        budget: overrides our section's budget: a `Budget` (calls, tokens, dollars,
            architectures, wall time), an engine `archon_async.Budget` (its caps read as
            calls, tokens and dollars) or a dict of `Budget`'s fields.
        parallel: architectures evaluated at once, 1 to 256 (None: the file's
            ``archon_async.parallel``).
        evaluations: architectures to evaluate at most, at least 1 (None: the file's
            ``archon_async.evaluations``, else Archon's iteration keys).
        keys: API keys for real runs (as `Engine` takes them).
        simulator: with ``simulate``, more settings of the simulated provider
            (`archon_async.simulate.SimulationSettings` fields: latency, rate limits...).

    Raises:
        ConfigError: a bad search file (a space with no feasible architecture, question
            sets that do not fit the benchmark...), a ``seed``, ``parallel`` or
            ``evaluations`` that is no whole number in range (named), ``oracle``
            without ``simulate``, or a run directory under a file (or a file itself)
            (`run`, `events` and `estimate` raise it for a run directory that holds
            another search, before any call).
    """

    def __init__(
        self,
        space_file: str | Path,
        *,
        benchmark: str | None = None,
        data: str | Path | None = None,
        algorithm: str | None = None,
        run_dir: str | Path | None = None,
        seed: int = 0,
        simulate: bool = False,
        oracle: bool = False,
        sampled: bool = False,
        budget: Budget | Any = None,
        parallel: int | None = None,
        evaluations: int | None = None,
        keys: Any = None,
        simulator: dict[str, Any] | None = None,
    ) -> None:
        check_arguments(seed=seed, parallel=parallel, evaluations=evaluations)
        check_names(
            space_file=space_file,
            benchmark=benchmark,
            algorithm=algorithm,
            run_dir=run_dir,
            data=data,
        )
        self.mode = _mode(simulate=simulate, oracle=oracle, sampled=sampled)
        self.simulate, self.oracle, self.sampled = simulate, oracle, sampled
        self.path = Path(space_file)
        self.settings, self.models = load_search_file(self.path)
        ext = self.settings.archon_async
        # The arguments given override the file's settings.
        self.benchmark = _benchmark(benchmark or self.settings.benchmark, self.path)
        self._benchmark_given = bool(benchmark)  # an error names the argument, not the file
        self.algorithm = algorithm or self.settings.algorithm()
        check_algorithm(self.algorithm)  # now: the model ranking's calls come before it runs
        self.seed = seed
        # A bad budget= is the argument's, not the file's (whose budget loads with it).
        self.budget = search_budget(budget, "Search()") or ext.budget
        self.parallel = ext.parallel if parallel is None else parallel
        self.evaluations = evaluations or self.settings.planned_evaluations(self.algorithm)
        self.keys = hidden_keys(keys)  # a dict's keys never shown (vars(), a debugger)
        self.effects = _effects(self.path, seed, ext.simulation)
        if ext.providers:
            _check_providers(self.path, ext.providers)
        self.run_dir = Path(run_dir) if run_dir else self._default_run_dir()
        if (problem := folder_problem(self.run_dir)) is not None:  # said before any call
            raise self._unmakeable_run_dir(problem)
        self._load_questions(data)
        self._check_space()
        self._start_state(simulator)

    def _unmakeable_run_dir(self, problem: str) -> ConfigError:
        return ConfigError(
            f"the run directory {self.run_dir} cannot be made: {problem}; give another "
            "run directory (--run-dir, Search(run_dir=...) or archon_async.run_dir)"
        )

    def _check_space(self) -> None:
        """Refuse now, not mid-run, a space with an unpriced model where dollars count, or
        with no feasible architecture (the error names the limit and how far to raise it)."""
        check_prices(self)
        space = Space(self.settings, self.models)
        if not len(space):
            raise ConfigError(space.why_empty(), source=str(self.path))

    def _start_state(self, simulator: dict[str, Any] | None) -> None:
        """What a run fills in as it goes (nothing yet)."""
        self.result: dict[str, Any] | None = None
        #: The call path of a run on a provider (None in oracle mode, or before `run`).
        self.callpath: Any = None
        #: The calls of no evaluation in this run (model ranking, baseline, final ranking).
        self.outside = BatchStats(total=0)
        self.simulator_options = dict(simulator or {})
        #: The simulated provider of a simulated run (None otherwise, or before `run`).
        self.simulator: Any = None
        # The budget's state as the search runs: caps, spend, wall time.
        self._spending = Spending(self)

    def _load_questions(self, data: str | Path | None) -> None:
        """The benchmark and its seeded question sets; sets that do not fit it and a
        judge the benchmark cannot use are refused now, not mid-run."""
        from ..benchmarks import get_benchmark

        if data is not None and not Path(data).exists():
            # Refused in every mode, as batch refuses it: an oracle search reads no question,
            # so the path would otherwise be ignored without a word.
            raise ConfigError(
                f"--data (Search(data=...)): {data}: no such file: give the benchmark's data "
                "file, or leave --data out for a shipped benchmark"
            )
        try:
            self._benchmark = get_benchmark(self.benchmark, path=data)
        except ConfigError as exc:  # an unknown name: said with the file or flag that gave it
            if self._benchmark_given:
                raise ConfigError(f"--benchmark (Search(benchmark=...)): {exc}") from None
            raise ConfigError(str(exc), source=str(self.path), location="benchmark") from None
        self._questions = QuestionSets(
            self.settings,
            self._benchmark,
            name=self.benchmark,
            seed=self.seed,
            source=str(self.path),
        )
        if self.mode != "oracle":  # question sets that do not fit: said now, not mid-run
            self._questions.check(len(self._benchmark.items()))
        check_judging(self, self._benchmark.scoring)

    def _default_run_dir(self) -> Path:
        ext = self.settings.archon_async
        if ext.run_dir:
            return Path(ext.run_dir)
        if self.settings.base_output_directory:
            return Path(self.settings.base_output_directory) / self.path.stem
        return Path(f"{self.path.stem}.search")

    def identity(self) -> dict[str, Any]:
        """What a resumed search must share with the record it continues: every setting
        of the space and of how an architecture is scored and chosen (by name: the refusal
        says which changed), the models, and what orders the proposals. Not how far the
        search may go (the evaluations, Archon's iteration counts, the budget) nor how
        fast, nor where: a search resumed with more evaluations continues the same
        proposals, as the algorithms depend on the scores so far and the seed only."""
        # Kept in search.json: a model's base URL there loses its password (compared on
        # resume in the same form).
        identity: dict[str, Any] = redacted_urls(
            {
                **_space_settings(self.settings),
                "models": [m.model for m in self.models],
                "benchmark": self.benchmark,
                "mode": self.mode,
                "algorithm": self.algorithm,
                "seed": self.seed,
                "parallel": self.parallel,
            }
        )
        return identity

    async def run(self) -> dict[str, Any]:
        """Run the search to the end; returns the report (also in ``report.json``)."""
        async for _ in self.events():
            pass
        assert self.result is not None
        return self.result

    async def events(self) -> AsyncIterator[SearchEvent]:
        """Run the search, yielding what happens as it happens.

        While it runs, the run directory is locked (``search.json.lock``, released by the
        system if the process dies, so a killed search resumes).

        Raises:
            InvalidInputError: another search is running in the run directory (before any
                call).
            ConfigError: a search that sends calls would evaluate a space of more than
                `WHOLE_SPACE_LIMIT` architectures by default, with no budget; a real one
                misses a key or a model's endpoint (each before the run directory is made).
        """
        check_planned(self)  # a whole-space default too large to send unbounded
        if self.mode == "real":  # before the run directory is made: a refusal leaves none
            check_keys(self)
            check_endpoints(self)
        if (problem := make_folder(self.run_dir)) is not None:
            raise self._unmakeable_run_dir(problem)
        lock = output_lock_path(self.run_dir / "search.json")
        busy = (
            f"{self.run_dir}: another search is running in this run directory (its lock "
            f"{lock} is held); wait for it to end (or stop it) and run this search again "
            "to resume it there, or give another run directory (--run-dir)"
        )
        with output_lock(self.run_dir / "search.json", busy=busy):
            async with aclosing(search_events(self)) as events:
                async for event in events:
                    yield event

    def simulation_settings(self, questions: list[Any]) -> Any:
        """The simulated provider's settings for this search: its models' skills, the seed,
        and the answer key of ``questions``, whose replies follow the seeded effects (so the
        expected score of each architecture is its exact `Truth` score)."""
        return simulation_settings(self, questions)

    def planned_architectures(self) -> int:
        """The architectures this run evaluates at most: the planned evaluations, capped by
        the architectures budget (reaching that cap is a budget stop)."""
        return min(self.evaluations, self.budget.architectures or self.evaluations)

    def unpriced_models(self) -> list[str]:
        """The models of the space, the judge and the baseline with no list price."""
        return unpriced_models(self)

    def _resolve(
        self, entry: str | dict[str, Any] | None, key: str = "judge_model"
    ) -> ModelRef | None:
        return resolve(self.path, entry, key)

    def questions(self) -> tuple[list[Any], list[Any]]:
        """The dev questions and the final-ranking ones (disjoint, seeded)."""
        dev, final, _ = self._questions.splits()
        return dev, final

    def report_questions(self) -> list[Any]:
        """The held-out questions: disjoint from the dev and final-ranking ones, scored
        for the report only (the chosen architecture's unbiased score), never to choose."""
        return self._questions.splits()[2]

    def ranking_questions(self, dev: list[Any]) -> list[Any]:
        """The questions each model alone is ranked on (see `QuestionSets.ranking`)."""
        return self._questions.ranking(dev)

    def question_numbers(self, items: list[Any]) -> dict[str, int]:
        """Question text -> the simulated effects' question it plays: the benchmark's
        i-th question plays question ``i % effects.questions``."""
        return self._questions.numbers(items, self.effects.questions)

    def estimate(self) -> dict[str, Any]:
        """What the search is expected to spend, before any call (a range). When its run
        directory holds this search already (stopped by a budget, or killed), also what
        its earlier runs sent (``spent``, as the budget counts it) and what the whole
        search is expected to send beyond it (``remaining``: expected less spent, at least
        0): the same command sends about that much more.

        Raises:
            ConfigError: as `run` would: a bad search file, or a run directory that holds
                another search (no estimate of a run that would be refused).
        """
        from ._estimate import estimate
        from ._record import refusal

        refused = refusal(self.run_dir, self.identity())
        if refused is not None:
            raise refused
        result = estimate(self)
        spent = spent_earlier(self.run_dir, self.identity())
        if spent is not None:
            result["spent"] = spent
            left = {w: max(0, result[w]["expected"] - spent[w]) for w in ("calls", "tokens")}
            dollars = usd(max(0.0, result["dollars"]["expected"] - spent["dollars"]))
            result["remaining"] = left | {"dollars": dollars}
            if _finished(self.run_dir, self.planned_architectures()):
                result["remaining"] = {"calls": 0, "tokens": 0, "dollars": 0.0}
                result["note"] += (
                    f"; {self.run_dir} holds this search, finished: the same command sends "
                    "nothing more (more evaluations or a larger budget go on from it)"
                )
        return result


def _finished(run_dir: Path, planned: int) -> bool:
    """Whether ``run_dir``'s report is of a search that ran to its end with ``planned``
    architectures (or the whole space): the same command then ends from its records and
    the cache, sending nothing."""
    import orjson

    try:
        report = orjson.loads((run_dir / "report.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return False
    if not isinstance(report, dict) or report.get("stopped_by") is not None:
        return False
    evaluated, size = report.get("evaluations"), report.get("space_size")
    planned = min(planned, size) if isinstance(size, int) else planned
    return isinstance(evaluated, int) and evaluated >= planned


def _benchmark(name: str | None, path: Path) -> str:
    """Our name of the search's benchmark.

    Raises:
        ConfigError: none is named (Archon's files always name one; guessing would search
            the wrong task).
    """
    if not name:
        raise ConfigError(
            'no benchmark: set "benchmark" in the file (e.g. "gsm8k", Archon\'s '
            '"arena_hard_auto") or give --benchmark NAME',
            source=str(path),
        )
    return benchmark_name(name)


def _mode(*, simulate: bool, oracle: bool, sampled: bool) -> str:
    """How architectures are scored: ``real`` calls, ``simulated`` ones, the ``oracle``'s
    exact expected score, or outcomes ``sampled`` from it.

    Raises:
        ConfigError: ``oracle`` without ``simulate``, or ``sampled`` without ``oracle``.
    """
    if oracle and not simulate:
        raise ConfigError("--oracle scores by the simulated ground truth: add --simulate")
    if sampled and not oracle:
        raise ConfigError("sampled draws outcomes from the ground truth: add oracle")
    if oracle:
        return "sampled" if sampled else "oracle"
    return "simulated" if simulate else "real"


def _effects(path: Path, seed: int, simulation: dict[str, Any]) -> Effects:
    """The simulated effects of our section's ``simulation``, seeded by the search.

    Raises:
        ConfigError: a bad ``simulation`` setting (named by its place in the file).
    """
    try:
        return Effects.model_validate({"seed": seed, **simulation}, strict=True)
    except ValidationError as exc:
        raise validation_error(exc, str(path), Effects, ("archon_async", "simulation")) from None


def _check_providers(path: Path, providers: dict[str, Any]) -> None:
    """Our section's ``providers`` (limits of the call path), checked before anything runs.

    Raises:
        ConfigError: a bad provider setting (named by its place in the file).
    """
    from .._config import ProviderSettings
    from .._registry import Registry
    from ..callpath._settings import validated_settings

    for model_type, given in providers.items():  # strict, as every number of the file
        if isinstance(given, dict):
            try:
                ProviderSettings.model_validate(given, strict=True)
            except ValidationError as exc:
                where = ("archon_async", "providers", model_type)
                raise validation_error(exc, str(path), ProviderSettings, where) from None
    validated_settings(
        providers,
        registry=Registry.default(),
        source=str(path),
        root=("archon_async", "providers"),
    )


#: Settings that do not make a search another one: how far it may go (Archon's iteration
#: counts, our evaluations and budget), how fast (rate limits), where it writes, the
#: estimate's token guesses, and what `Search.identity` holds resolved (the algorithm,
#: the benchmark, the architectures in flight at once).
_FREE_SETTINGS = {
    "random_search_iterations",
    "init_points",
    "n_iter",
    "search_iterations",
    "base_output_directory",
    "search_algorithm_choice",
    "benchmark",
}
_FREE_OURS = {
    "evaluations",
    "budget",
    "providers",
    "run_dir",
    "prompt_tokens",
    "answer_tokens",
    "algorithm",
    "parallel",
}


def _space_settings(settings: SearchFile) -> dict[str, Any]:
    """The search file's settings that define the search, by name (ours as
    ``archon_async.NAME``), JSON-ready."""
    exclude: dict[str, Any] = dict.fromkeys(_FREE_SETTINGS, True)
    dumped = settings.model_dump(mode="json", exclude=exclude | {"archon_async": _FREE_OURS})
    ours = dumped.pop("archon_async")
    if ours["racing"]["max_share"] is None:  # as run directories made before it hold
        del ours["racing"]["max_share"]
    return dumped | {f"archon_async.{name}": value for name, value in ours.items()}
