"""How a search scores architectures: the evaluator of a space for each mode (the
oracle's exact expected score, outcomes sampled from the ground truth, or runs through
one shared call path on a real or simulated provider) and the simulated provider's
settings for a search.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from ._evaluate import EngineEvaluator, OracleEvaluator
from ._models import ModelRef
from ._sampled import SampledEvaluator
from ._settings import SearchFile
from ._space import Space
from ._spend import SPEND_JOURNAL
from ._truth import Truth

if TYPE_CHECKING:
    from ._run import Search

__all__ = ["cost_weight", "engine_evaluators", "evaluators", "simulation_settings"]


async def evaluators(search: Search, stack: AsyncExitStack) -> Any:
    """The search's evaluator of a space (a callable), by its mode; a run on a provider
    enters its call path into ``stack``."""
    if search.sampled:
        return _sampled_evaluators(search)
    if search.oracle:
        judged = search._benchmark.scoring == "judge"
        weight = cost_weight(search.settings)

        def oracle(space: Space) -> OracleEvaluator:
            return OracleEvaluator(
                space, Truth(space, search.effects, judged=judged), cost_weight=weight
            )

        return oracle
    return await _engine_evaluators(search, stack)


def _sampled_evaluators(search: Search) -> Callable[[Space], SampledEvaluator]:
    dev, final, report = search._questions.splits()
    ranking = search.ranking_questions(dev)
    numbers = search.question_numbers([*dev, *final, *ranking, *report])
    ext = search.settings.archon_async

    def pairs(items: list[Any]) -> list[tuple[str, int]]:
        return [(item.id, numbers[item.messages[-1]["content"]]) for item in items if item.messages]

    def sampled(space: Space) -> SampledEvaluator:
        judged = search._benchmark.scoring == "judge"
        evaluator = SampledEvaluator(
            space,
            Truth(space, search.effects, judged=judged),
            pairs(dev),
            pairs(final),
            pairs(ranking),
            seed=search.seed,
            judged=judged,
            early_fraction=(
                ext.early_stopping.first_fraction if ext.early_stopping.enabled else None
            ),
            early_z=ext.early_stopping.z,
            cost_weight=cost_weight(search.settings),
        )
        evaluator.report = pairs(report)
        return evaluator

    return sampled


def cost_weight(settings: SearchFile) -> float:
    """The weight of dollars in the objective (0 unless it is ``score_per_dollar``)."""
    ext = settings.archon_async
    return ext.cost_weight if ext.objective == "score_per_dollar" else 0.0


async def _engine_evaluators(
    search: Search, stack: AsyncExitStack
) -> Callable[[Space], EngineEvaluator]:
    dev, final, report = search._questions.splits()
    ranking = search.ranking_questions(dev)
    callpath = await _callpath(search, stack, [*dev, *final, *ranking, *report])
    return engine_evaluators(search, callpath, search.outside)


def engine_evaluators(
    search: Search, callpath: Any, outside: Any
) -> Callable[[Space], EngineEvaluator]:
    """The search's evaluator of a space on ``callpath`` (the run's own, or the estimate
    pilot's private simulated one: its model ranking is then the run's), the calls
    outside the architectures counted in ``outside``."""
    dev, final, report = search._questions.splits()
    ranking = search.ranking_questions(dev)
    options: dict[str, Any] = {"seed": search.seed, "callpath": callpath}
    ext = search.settings.archon_async
    judge = _single(search._resolve(search.settings.judge_model))
    baseline = _single(search._resolve(search.settings.baseline_model, "baseline_model"))

    def engine(space: Space) -> EngineEvaluator:
        evaluator = EngineEvaluator(
            space,
            search._benchmark,
            dev,
            engine_options=options,
            judge=judge,
            baseline=baseline,
            pairwise=ext.scoring != "single",
            early_fraction=(
                ext.early_stopping.first_fraction if ext.early_stopping.enabled else None
            ),
            early_z=ext.early_stopping.z,
            cost_weight=cost_weight(search.settings),
            mode=search.mode,
            final=final,
            ranking=ranking,
            outside=outside,
        )
        evaluator.report = report
        return evaluator

    return engine


async def _callpath(search: Search, stack: AsyncExitStack, questions: list[Any]) -> Any:
    """The search's one call path, entered on ``stack``: every architecture shares its
    limits, and its response cache (in the run dir) makes layers that architectures share,
    a resumed search and the baseline's answers cost nothing the second time; a simulated
    search's server answers ``questions``."""
    from ..callpath import CallPath, SpendJournal

    simulate: Any = False
    if search.simulate:
        # The call path starts the server from these settings, so its cache entries are
        # keyed by them, not by the server's port: a rerun (a resumed search) finds them.
        simulate = search.simulation_settings(questions)
    callpath = CallPath(
        keys=None if search.simulate else search.keys,
        simulate=simulate,
        cache=search.run_dir / "cache.sqlite",
        providers=search.settings.archon_async.providers or None,
        budget=search._spending.hard_cap(),
    )
    await stack.enter_async_context(callpath)
    # Each request is recorded before it is sent: a killed search's spend is known to
    # the next run (`spent_before`), so the hard cap spans every run, kills included.
    callpath.journal = SpendJournal(search.run_dir / SPEND_JOURNAL)
    stack.callback(callpath.journal.close)
    search.callpath = callpath
    search.simulator = callpath.simulator
    return callpath


def simulation_settings(search: Search, questions: list[Any]) -> Any:
    """The simulated provider's settings for ``search``: its models' skills, the seed,
    and the answer key of ``questions``, whose replies follow the seeded effects (so the
    expected score of each architecture is its exact `Truth` score)."""
    from ..benchmarks import simulated_answer_key
    from ..simulate import ModelSettings, SimulationSettings
    from ..simulate._effects import GroundTruth

    effects = search.effects
    models = {m.model: ModelSettings(skill=effects.skill(m.model)) for m in search.models}
    given = {
        "seed": search.seed,
        "models": models,
        "answer_key": simulated_answer_key(search._benchmark.name, questions),
        "ground_truth": GroundTruth(effects=effects, questions=search.question_numbers(questions)),
    }
    return SimulationSettings.model_validate({**given, **search.simulator_options})


def _single(model: ModelRef | None) -> dict[str, Any] | None:
    """A single-model Archon config of ``model`` (the judge, the baseline), or None."""
    if model is None:
        return None
    return {"name": model.name, "layers": [[model.component(samples=1)]]}
