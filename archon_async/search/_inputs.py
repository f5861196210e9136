"""A search's input checks before any call and before the run directory is written: the
judge and the baseline, the API keys of a real run, and the list prices a dollar setting
needs. Each error names the search file, the key and what to do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._exceptions import ConfigError
from ._models import ModelRef
from ._numbers import number_problem
from ._spend import unpriced

if TYPE_CHECKING:
    from ._run import Search

#: Architectures a search that sends calls may evaluate by default (grid search and a
#: greedy search with no ``search_iterations``: the whole space): more needs a count of
#: evaluations or a budget, said with the naive spend, not a surprise bill.
WHOLE_SPACE_LIMIT = 100

__all__ = [
    "WHOLE_SPACE_LIMIT",
    "check_arguments",
    "check_endpoints",
    "check_judging",
    "check_keys",
    "check_names",
    "check_planned",
    "check_prices",
    "resolve",
    "unpriced_models",
]


#: The largest seed: numpy's legacy seeding (Optuna's samplers) takes 0 to 2**32 - 1, and
#: its generators no negative one.
MAX_SEED = 2**32 - 1


class _Arguments(BaseModel):
    """`Search`'s numeric arguments, checked as strictly as the search file's keys."""

    model_config = ConfigDict(strict=True)

    seed: int = Field(ge=0, le=MAX_SEED)
    parallel: int | None = Field(ge=1, le=256)
    evaluations: int | None = Field(ge=1)


#: What each argument is, and what None means (said with a refusal).
_MEANING = {
    "seed": "it seeds the algorithm, the question sets and the simulation",
    "parallel": "architectures evaluated at once; None: the search file's archon_async.parallel",
    "evaluations": "architectures to evaluate at most; None: the search file's "
    "archon_async.evaluations, else Archon's iteration keys for the algorithm",
}


def check_arguments(*, seed: object, parallel: object, evaluations: object) -> None:
    """`Search`'s numeric arguments, before anything is read or called: a whole number each
    (never a bool, a float or a string), ``parallel`` 1 to 256 and ``evaluations`` at
    least 1 (a 0 is refused, not read as "the file's value": None is that).

    Raises:
        ConfigError: naming the argument, what it takes and what it was given.
    """
    given = {"seed": seed, "parallel": parallel, "evaluations": evaluations}
    try:
        _Arguments.model_validate(given)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0])
        problem = number_problem(error, _Arguments, python=True) or error["msg"]
        meaning = _MEANING[name]
        raise ConfigError(
            f"Search({name}={given[name]!r}): {problem} ({meaning})",
            # The command line's words: its option, and its default for None.
            cli_hint=f"--{name} {given[name]}: {problem} "
            f"({meaning.replace('None: the search file', 'default: the search file')})",
        ) from None


def check_names(**given: object) -> None:
    """`Search`'s path and name arguments (``space_file``, ``run_dir``, ``data``: a str or a
    path; ``benchmark``, ``algorithm``: a str), each unless None.

    Raises:
        ConfigError: naming the argument, what it takes and what it was given.
    """
    for name, value in given.items():
        path = name in ("space_file", "run_dir", "data")
        if value is None or isinstance(value, str) or (path and isinstance(value, os.PathLike)):
            continue
        wanted = "a path (a str or a pathlib.Path)" if path else "a name (a str)"
        raise ConfigError(f"Search({name}={value!r}): must be {wanted}, not {type(value).__name__}")


def resolve(
    path: Path, entry: str | dict[str, Any] | None, key: str = "judge_model"
) -> ModelRef | None:
    """The model a search file's ``key`` (a config path or an inline config) names, or
    None when it is not set; paths are relative to the search file ``path``."""
    from ._models import resolve_model

    if entry is None:
        return None
    return resolve_model(entry, base=path.resolve().parent, where=f"{path}: {key}")


def _refs(search: Search) -> list[ModelRef | None]:
    """The models of the space, the judge and the baseline (None when not set)."""
    refs = [*search.models, resolve(search.path, search.settings.judge_model)]
    refs.append(resolve(search.path, search.settings.baseline_model, "baseline_model"))
    return refs


def unpriced_models(search: Search) -> list[str]:
    """The models of the space, the judge and the baseline with no list price."""
    return unpriced(ref.model for ref in _refs(search) if ref is not None)


def check_keys(search: Search) -> None:
    """Every hosted provider the space, the judge and the baseline use has a key, checked
    before the run directory is written and before any call.

    Raises:
        ConfigError: naming the search file, the provider and how to give a key; or a key
            holding whitespace or a control character inside (see `check_header_safe`).
    """
    from .._keys import check_header_safe, keyless_provider, load_key_sets

    types = sorted({ref.model_type for ref in _refs(search) if ref is not None})
    origins: dict[tuple[str, str], str] = {}
    key_sets = load_key_sets(search.keys, origins=origins)
    check_header_safe(types, key_sets, str(search.path), origins)
    missing = keyless_provider(types, key_sets)
    if missing is None:
        return
    # The search's own advice, once each (the engine's names run/batch options).
    model_type, names = missing
    needed = (
        f"{model_type} needs an API key and none is given: set {' or '.join(names)} (and "
        f"{names[0]}_2, ... for more keys) in the environment or in a .env file, or give "
        f"a JSON key file ({{{names[0]!r}: ['...']}}, Archon's api_keys.json)"
    )
    raise ConfigError(
        f"{needed} as Search(keys=PATH); or simulate=True to search on the simulated provider",
        source=str(search.path),
        cli_hint=f"{needed} with --keys FILE; or add --simulate to search on the "
        "simulated provider",
    )


def check_endpoints(search: Search) -> None:
    """Every model, the judge and the baseline have a base URL that can work, said in the
    search file's terms (`_models.check_endpoints`), before any call.

    Raises:
        ConfigError: naming the search file, the model's place and what to set.
    """
    from ._models import check_endpoints as check

    places = [(f"models_available[{i}]", ref) for i, ref in enumerate(search.models)]
    for key in ("judge_model", "baseline_model"):
        ref = resolve(search.path, getattr(search.settings, key), key)
        places += [(key, ref)] if ref is not None else []
    check(places, search.settings.archon_async.providers, str(search.path))


def check_prices(search: Search) -> None:
    """A dollar objective, constraint or budget needs a price for every model: an
    unpriced one would count as $0 (the cheapest of all) without a word.

    Raises:
        ConfigError: naming the unpriced models and the dollar settings to drop.
    """
    ext = search.settings.archon_async
    uses = [
        name
        for name, used in (
            ("objective score_per_dollar", ext.objective == "score_per_dollar"),
            ("constraints.max_dollars_per_query", ext.constraints.max_dollars_per_query),
            ("budget dollars", search.budget.dollars),
        )
        if used
    ]
    missing = unpriced_models(search) if uses else []
    if missing:
        raise ConfigError(
            f"no list price for {', '.join(missing)}, so the {' and the '.join(uses)} "
            "would count their calls as $0: drop the dollar settings (use calls or "
            "tokens instead) or use models with a list price",
            source=str(search.path),
        )


def check_judging(search: Search, scoring: str) -> None:
    """The judge and the baseline load, and a run that judges (its benchmark's
    ``scoring`` is ``"judge"``) has them: checked before the run directory is written (a
    mistake there would leave a directory that refuses the corrected file) and before any
    call.

    Raises:
        ConfigError: naming the search file, the key and what to set.
    """
    settings = search.settings
    for key in ("judge_model", "baseline_model"):
        resolve(search.path, getattr(settings, key), key)
    if search.mode not in ("simulated", "real") or scoring != "judge":
        return  # the oracle and the sampled path score by the ground truth
    from ..benchmarks import judge_kind

    needed = ["judge_model"]
    if settings.archon_async.scoring != "single" and judge_kind(search.benchmark) == ("pairwise"):
        needed.append("baseline_model")
    missing = [key for key in needed if getattr(settings, key) is None]
    if missing:
        raise ConfigError(
            f"{search.benchmark} is scored by an LLM judge"
            + (" against a baseline's answers" if "baseline_model" in needed else "")
            + f": set {' and '.join(missing)} (a single-model Archon config, e.g. "
            '"configs/individual_models/gpt-4o-mini.json")',
            source=str(search.path),
        )


def check_planned(search: Search) -> None:
    """A search that sends calls (real or simulated) and would evaluate the whole space by
    default, the space holding more than `WHOLE_SPACE_LIMIT` architectures, with no budget
    to stop it: refused before the run directory is written, with what it would spend at
    most (no cache: every architecture on every dev question) and what to set.

    Raises:
        ConfigError: naming the algorithm, the space's size, the naive spend and the
            settings that bound it.
    """
    from .._pricing import usd_text
    from ._settings import WHOLE_SPACE
    from ._space import Space

    if search.mode not in ("real", "simulated") or search.evaluations < WHOLE_SPACE:
        return
    if any(value is not None for value in search.budget.model_dump().values()):
        return  # a budget stops it
    space = Space(search.settings, search.models)
    if len(space) <= WHOLE_SPACE_LIMIT:
        return
    dev = len(search.questions()[0])
    costs = [space.cost(candidate) for candidate in space.candidates]
    calls, tokens = sum(c.calls for c in costs) * dev, sum(c.tokens for c in costs) * dev
    dollars = usd_text(sum(c.dollars for c in costs) * dev)
    count = " (or Archon's search_iterations)" if search.algorithm == "greedy_search" else ""
    plan = (
        f"{search.algorithm} with no count of evaluations evaluates the whole space: "
        f"{len(space):,} architectures (more than {WHOLE_SPACE_LIMIT} by default), whose "
        f"runs on the {dev:,} dev questions alone send up to {calls:,} calls, {tokens:,} "
        f"tokens, {dollars} (no cache hit; racing, the final ranking and the report send "
        "more; the estimate gives the expected range)"
    )
    raise ConfigError(
        f"{plan}: give Search(evaluations=N) or archon_async.evaluations{count}, or a "
        "budget (budget={'calls': N} or archon_async.budget: calls, tokens, dollars, "
        "architectures or wall_time_s) to go on until it stops the search",
        source=str(search.path),
        cli_hint=f"{plan}: give --evaluations N (or archon_async.evaluations{count}), or a "
        "budget (--budget-calls, --budget-dollars, --budget-architectures...) to go on "
        "until it stops the search; --estimate says what it is expected to spend",
    )
