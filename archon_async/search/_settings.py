"""The search configuration file: Archon's keys as Archon reads them, plus our own section.

An Archon search configuration (``src/archon/itas_algorithms/search_configs/*.json`` in
ScalingIntelligence/Archon) is a flat JSON object. Its keys are validated here with their
meaning in Archon's ``itas_algorithm.py``; everything we add lives in one extra object,
``"archon_async"`` (`Extension`), so an Archon file loads unchanged and an extended file
still reads as Archon's.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "ARCHON_ALGORITHMS",
    "MODEL_BASED",
    "WHOLE_SPACE",
    "Budget",
    "Constraints",
    "EarlyStopping",
    "Extension",
    "FinalStage",
    "SearchFile",
]

#: Archon's ``search_algorithm_choice`` values, and ours.
ARCHON_ALGORITHMS = ("random_search", "grid_search", "bayesian_optimization")
Algorithm = Literal[
    "random_search",
    "grid_search",
    "greedy_search",
    "bayesian_optimization",
    "tpe",
    "gaussian_process",
    "slice_search",
]
FinalStage = Literal["none", "verifier", "unit_tests"]
#: The model-based algorithms: Archon's Bayesian optimisation's keys (``init_points`` +
#: ``n_iter``) count their evaluations.
MODEL_BASED = ("bayesian_optimization", "tpe", "gaussian_process", "slice_search")
#: `SearchFile.planned_evaluations` of an algorithm with no count: the whole space.
WHOLE_SPACE = 10**9
#: A choice of a count that is at least 1 (models, samples, a ranker's top_k), or 0 too
#: (fusers: 0 = no such layer).
Positive = Annotated[int, Field(ge=1)]
Count = Annotated[int, Field(ge=0)]
#: Archon's ``dataset_sample_for_*``: a share of the benchmark or a number of questions.
_SAMPLES = (
    "dataset_sample_for_power_ranking",
    "dataset_sample_for_search",
    "dataset_sample_for_final_ranking",
)


class Constraints(BaseModel):
    """Per-query limits an architecture must meet to be in the space at all.

    Attributes:
        max_calls_per_query: inference calls (Archon's ``maximum_inference_calls`` when
            unset here).
        max_tokens_per_query: estimated input plus output tokens.
        max_dollars_per_query: estimated list-price dollars (``archon_async._pricing``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    max_calls_per_query: int | None = Field(default=None, ge=1)
    max_tokens_per_query: int | None = Field(default=None, ge=1)
    max_dollars_per_query: float | None = Field(default=None, gt=0)


class Budget(BaseModel):
    """Caps on what the whole search spends; reaching one stops new evaluations, the ones
    in flight finish (overshoot at most what was in flight).

    Attributes:
        calls: provider calls sent (cache hits are free).
        tokens: input plus output tokens of the calls sent.
        dollars: estimated list-price dollars of the calls sent.
        architectures: architectures evaluated.
        wall_time_s: seconds of search (a resumed search counts from its restart).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    calls: int | None = Field(default=None, ge=1)
    tokens: int | None = Field(default=None, ge=1)
    dollars: float | None = Field(default=None, gt=0)
    architectures: int | None = Field(default=None, ge=1)
    wall_time_s: float | None = Field(default=None, gt=0)


class EarlyStopping(BaseModel):
    """Stop evaluating an architecture that is clearly weaker than the best so far.

    It is first run on ``first_fraction`` of the dev questions; when the upper end of its
    confidence interval there (``z`` standard errors) is below the lower end of the 95%
    interval of the best full score so far (the best of many noisy scores is a lucky one),
    it is recorded with that partial score and marked ``stopped_early``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    enabled: bool = True
    first_fraction: float = Field(default=0.4, gt=0, lt=1)
    z: float = Field(default=2.0, gt=0)


class Racing(BaseModel):
    """More questions for the architectures that could be the best (`archon_async.search.
    _racing`): during the search the ``leaders`` best rest on ``leader_questions``
    selection questions (dev, then final-ranking ones; default: all of them once); the
    final ranking races its finalists by successive halving up to ``draws`` passes over
    the selection questions (independent answers to the same questions: an engine run's
    pass ``p`` is `Engine.generate`'s draw ``p``, samples of its own; independent only
    where the models sample, not at temperature 0); its first stage reaches at least
    ``first_passes`` passes (4: on 2, the true best finalist was halved away on some
    seeded searches, bench/RESULTS.md "first stage on 4 passes"). The
    ``predicted_finalists`` evaluations a model of the score across the space predicts
    best (`archon_async.search._outlook`) race in the final ranking beside the
    ``number_of_archon_configs_for_final_ranking`` best by score (8: the best evaluated
    architecture was no finalist on about half of seeded noisy searches, mostly one whose
    200 dev questions had ranked it far down; bench/RESULTS.md "predicted finalists by
    default"). Off by default (bench/RESULTS.md, "second look"): the ``second_looks``
    evaluations it predicts best rest on ``leader_questions`` too. ``enabled: false``: no
    leaders, one pass.

    ``max_share`` bounds what racing spends where the evaluations send calls: at most that
    many times the calls of the search's own evaluations (counted as a fresh run sends
    them; the final ranking's first stage always runs, to one pass beyond what the
    finalists had, and on to ``first_passes`` as the share allows), further passes only
    while the share allows (`archon_async.search._race_share`), chosen pass by pass
    (`archon_async.search._race_bounded`); ``null``: no bound."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    enabled: bool = True
    leaders: int = Field(default=6, ge=0)
    leader_questions: int | None = Field(default=None, ge=1)
    draws: int = Field(default=32, ge=1)
    second_looks: int = Field(default=0, ge=0)
    predicted_finalists: int = Field(default=8, ge=0)
    first_passes: int = Field(default=4, ge=1)
    max_share: float | None = Field(default=1.0, ge=0)


class Extension(BaseModel):
    """Our section of a search file (``"archon_async": {...}``); every field is optional.

    Attributes:
        critic_choices: whether a critic runs before each fusion layer.
        ranker_choices: whether a ranker runs before each fusion layer.
        ranker_top_k_choices: how many candidates such a ranker keeps.
        final_choices: a last filter before the final fuser: ``none``, ``verifier`` (keeps
            what it judges correct) or ``unit_tests`` (generates tests, keeps the
            ``final_top_k`` candidates passing most).
        final_top_k: candidates kept by the unit-test stage.
        add_final_fuser: Archon always ends with one fuser of the best model.
        temperature, max_tokens: of every component (Archon: 0.7 and 2048).
        constraints: per-query limits (infeasible architectures are never evaluated).
        objective: ``score``, or ``score_per_dollar`` (score minus ``cost_weight`` points
            per dollar per query).
        budget: caps on the whole search.
        run_dir: where the search keeps its record and outputs.
        algorithm: overrides ``search_algorithm_choice``.
        evaluations: architectures to evaluate (else from Archon's iteration keys).
        parallel: architectures evaluated at once.
        dev_questions / held_out_questions: how many dev and final-ranking questions
            (else Archon's ``dataset_sample_for_search`` and
            ``dataset_sample_for_final_ranking``); the two sets are disjoint.
        report_questions: held-out questions the chosen architecture is scored on for the
            report only, never to choose (``held_out`` in report.json): by default as many
            as the final ranking has, from the questions dev and final ranking leave; 0
            for none.
        early_stopping: see `EarlyStopping`.
        racing: see `Racing`.
        scoring: ``auto`` (built-in scorer, or the judge for judged benchmarks),
            ``pairwise`` (judge against the baseline) or ``single`` (judge ratings).
        simulation: the simulated ground truth's settings (see `Effects`).
        prompt_tokens / answer_tokens: the token model of the per-query estimates.
        providers: settings of each model_type for the whole search
            (`archon_async.ProviderSettings`: ``rpm``, ``tpm``, ``max_concurrency``...),
            e.g. ``{"Together_API": {"rpm": 600}}``; every architecture in flight shares them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    critic_choices: list[bool] = Field(default_factory=lambda: [False])
    ranker_choices: list[bool] = Field(default_factory=lambda: [False])
    ranker_top_k_choices: list[Positive] = Field(default_factory=lambda: [5])
    final_choices: list[FinalStage] = Field(default_factory=lambda: list[FinalStage](["none"]))
    final_top_k: int = Field(default=3, ge=1)
    add_final_fuser: bool = True
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int = Field(default=2048, ge=1)
    constraints: Constraints = Field(default_factory=Constraints)
    objective: Literal["score", "score_per_dollar"] = "score"
    cost_weight: float = Field(default=0.0, ge=0)
    budget: Budget = Field(default_factory=Budget)
    run_dir: str | None = None
    algorithm: Algorithm | None = None
    evaluations: int | None = Field(default=None, ge=1)
    parallel: int = Field(default=4, ge=1, le=256)
    dev_questions: int | None = Field(default=None, ge=1)
    held_out_questions: int | None = Field(default=None, ge=0)
    report_questions: int | None = Field(default=None, ge=0)
    early_stopping: EarlyStopping = Field(default_factory=EarlyStopping)
    racing: Racing = Field(default_factory=Racing)
    scoring: Literal["auto", "pairwise", "single"] = "auto"
    simulation: dict[str, Any] = Field(default_factory=dict)
    prompt_tokens: int = Field(default=300, ge=1)
    answer_tokens: int = Field(default=400, ge=1)
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("critic_choices", "ranker_choices", "ranker_top_k_choices", "final_choices")
    @classmethod
    def _not_empty(cls, value: list[Any]) -> list[Any]:
        if not value:
            raise ValueError("must list at least one choice")
        return list(dict.fromkeys(value))


class SearchFile(BaseModel):
    """An Archon search configuration, key for key (Archon's ``itas_algorithm.py``).

    Attributes:
        model_top_k_choices: how many of the best-ranked models generate (>= 1).
        sample_top_k_choices: samples each of them draws (>= 1).
        fuser_layer_1_choices, fuser_layer_2_choices, fuser_layer_3_choices: fusers in
            each fusion layer, the best-ranked models first; 0 = no such layer.
        maximum_inference_calls: calls per query an architecture may make.
        models_available: single-model Archon configs (paths) or model config objects.
        benchmark: a benchmark name (``arena_hard_auto`` is Archon's name for arena_hard);
            required, here or as the search's ``benchmark`` override.
        judge_model, baseline_model: single-model Archon configs for judged benchmarks.
        dataset_sample_for_power_ranking, dataset_sample_for_search,
            dataset_sample_for_final_ranking: the share of the benchmark (a fraction <= 1)
            or a number of questions (> 1).
        search_algorithm_choice: ``random_search``, ``grid_search``,
            ``bayesian_optimization`` (ours too: see `Algorithm`).
        random_search_iterations: evaluations of a random search.
        init_points, n_iter: a Bayesian optimisation's random start and model-guided steps:
            their sum is how many architectures a model-based search evaluates (`MODEL_BASED`:
            tpe, Archon's bayesian_optimization, gaussian_process, slice_search); each
            algorithm starts with its own random points (TPE 10, slice_search 12).
        search_iterations: evaluations of Archon's greedy search.
        number_of_archon_configs_for_final_ranking: the best architectures re-scored on
            the final-ranking questions and raced (`Racing`).
        base_output_directory: where Archon wrote its runs (our default run dir's parent).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    model_top_k_choices: list[Positive]
    sample_top_k_choices: list[Positive] = Field(default_factory=lambda: [1])
    fuser_layer_1_choices: list[Count] = Field(default_factory=lambda: [0])
    fuser_layer_2_choices: list[Count] = Field(default_factory=lambda: [0])
    fuser_layer_3_choices: list[Count] = Field(default_factory=lambda: [0])
    maximum_inference_calls: int | None = Field(default=None, ge=1)
    models_available: list[str | dict[str, Any]]
    benchmark: str | None = None
    judge_model: str | dict[str, Any] | None = None
    baseline_model: str | dict[str, Any] | None = None
    dataset_sample_for_power_ranking: float = Field(default=1.0, gt=0)
    dataset_sample_for_search: float = Field(default=1.0, gt=0)
    dataset_sample_for_final_ranking: float = Field(default=1.0, gt=0)
    search_algorithm_choice: Algorithm = "bayesian_optimization"
    random_search_iterations: int = Field(default=10, ge=1)
    init_points: int = Field(default=5, ge=0)
    n_iter: int = Field(default=25, ge=0)
    search_iterations: int | None = Field(default=None, ge=1)
    number_of_archon_configs_for_final_ranking: int = Field(default=10, ge=0)
    base_output_directory: str | None = None
    archon_async: Extension = Field(default_factory=Extension)

    @field_validator("model_top_k_choices", "sample_top_k_choices")
    @classmethod
    def _at_least_one(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("must list at least one choice")
        return sorted(set(value))

    @field_validator("fuser_layer_1_choices", "fuser_layer_2_choices", "fuser_layer_3_choices")
    @classmethod
    def _fusers(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("must list at least one choice (0 = no such layer)")
        return sorted(set(value))

    @field_validator(*_SAMPLES)
    @classmethod
    def _share_or_count(cls, value: float) -> float:
        # Archon reads 1.5 as a share of 150%; a count of 1.5 questions is no count.
        if value > 1 and not float(value).is_integer():
            raise ValueError(
                "must be a share of the benchmark (above 0, at most 1) or a whole number "
                f"of questions (above 1), not {value:g}"
            )
        return value

    @model_validator(mode="after")
    def _enough_models(self) -> SearchFile:
        fusers = (
            self.fuser_layer_1_choices,
            self.fuser_layer_2_choices,
            self.fuser_layer_3_choices,
        )
        if not self.models_available:
            raise ValueError("models_available lists no model")
        named = {
            "model_top_k_choices": self.model_top_k_choices,
            "fuser_layer_1_choices": fusers[0],
            "fuser_layer_2_choices": fusers[1],
            "fuser_layer_3_choices": fusers[2],
        }
        for key, choices in named.items():
            if max(choices) > len(self.models_available):
                raise ValueError(
                    f"{key} asks for the top {max(choices)} models but models_available "
                    f"lists {len(self.models_available)}: add models or lower the choice"
                )
        return self

    def algorithm(self) -> str:
        """The algorithm to run: our section's override, else Archon's choice."""
        return self.archon_async.algorithm or self.search_algorithm_choice

    def planned_evaluations(self, algorithm: str | None = None) -> int:
        """Architectures to evaluate, from our ``evaluations`` or Archon's iteration keys
        for ``algorithm`` (default: the file's)."""
        if self.archon_async.evaluations is not None:
            return self.archon_async.evaluations
        algorithm = algorithm or self.algorithm()
        if algorithm == "random_search":
            return self.random_search_iterations
        if algorithm in MODEL_BASED:
            return max(1, self.init_points + self.n_iter)
        if algorithm == "greedy_search" and self.search_iterations:
            return self.search_iterations
        return WHOLE_SPACE  # grid and greedy search: until the space is exhausted or the budget
