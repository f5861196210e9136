"""``--estimate``: what a search is expected to send, before any call.

The estimate follows the search as it will run, with its response cache:

* **Which architectures.** Random and grid search propose the same architectures whatever
  the scores: those exactly. A model-based algorithm's proposals depend on the scores it
  sees: the estimate runs it against the simulated ground truth (`Truth`, the search's
  effects), the scores a simulated search follows, and a stand-in for a real one's.
* **Which calls they send.** Every call of every architecture is named by what decides
  its request (`_sharing`); the search sends each distinct request once per question it
  is asked on, since the cache answers the repeats (the model ranking's answers included).
* **Early stopping.** An architecture runs on the first part of the dev questions, and on
  the rest unless it is stopped: the chance that it goes on follows from its expected score
  and the best before it (binomial per-question outcomes).
* **Tokens and dollars** per call from `TokenModel` (prompts built by the components'
  own prompt functions; replies measured by a pilot on the simulator, or from the search
  file's ``answer_tokens`` for a real run), at list prices.

The range: ``high`` is the naive sum (no cache hit at all, every architecture on every dev
question); ``low`` assumes every architecture after the first batch is stopped early.
"""

from __future__ import annotations

import concurrent.futures
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio

from .._pricing import DEFAULT_PRICES, cost_usd, usd
from ._algorithms import make_algorithm
from ._effects import QuestionSet
from ._sharing import Call, Names, calls_of, generator_call
from ._space import Candidate, Space
from ._tokens import TokenModel, chars_tokens, measured_replies, pilot_configs, settings_replies
from ._truth import Truth

if TYPE_CHECKING:
    from ._run import Search

__all__ = ["estimate"]

_PILOT_QUESTIONS = 3


def estimate(search: Search) -> dict[str, Any]:
    """The expected spend of ``search``: calls, tokens and dollars (expected, low, high)."""
    judged = search._benchmark.scoring == "judge"
    if search.oracle:
        space = Space(search.settings, search.models)
        return {
            "mode": "oracle",
            "architectures": min(search.planned_architectures(), len(space)),
            "space_size": len(space),
            "calls": 0,
            "tokens": 0,
            "dollars": 0.0,
            "note": "oracle scores are computed exactly: no call is made",
        }
    dev, held = search.questions()
    tokens, ranking = _token_model(search, dev)
    if ranking is None:
        # The model ranking as the simulated truth has it (each model alone, its chance).
        chances = QuestionSet(search.effects, [m.model for m in search.models])
        ranking = {m.model: float(chances.chance(m.model).mean()) for m in search.models}
    ranked = sorted(search.models, key=lambda m: -ranking[m.model])
    space = Space(search.settings, ranked)
    evaluations = min(search.planned_architectures(), len(space))
    head: dict[str, Any] = {
        "mode": search.mode,
        "architectures": evaluations,
        "space_size": len(space),
    }
    truth = Truth(space, search.effects, judged=judged)
    batches = _proposals(search, space, truth, evaluations)
    plan = _Plan(search, space, truth, tokens, len(dev))
    for batch in batches:
        plan.add_batch(batch)
    totals = plan.totals()
    totals = _held_out(plan, totals, len(held))
    capped = _cap(search, totals)
    missing = search.unpriced_models()
    return {
        **head,
        **({"unpriced_models": missing} if missing else {}),
        "dev_questions": len(dev),
        "held_out_questions": len(held),
        **capped,
        "cache_share": round(totals["expected"][0] / max(1.0, totals["high"][0]), 4),
        "note": (
            "with the response cache: each distinct request is sent once per question "
            "(the model ranking's answers reused); proposals of a model-based algorithm and "
            "early stopping follow the simulated ground truth; parse retries as measured; "
            f"tokens: {tokens.source}; dollars at list prices"
            + (f" (no price for {', '.join(missing)}: not in them)" if missing else "")
            + "; "
            "high: no cache at all; low: every architecture after the first batch stopped "
            "early"
        ),
    }


def _cap(search: Search, totals: dict[str, list[float]]) -> dict[str, Any]:
    """Calls, tokens and dollars as the result's fields, scaled down where a budget stops
    the search first."""
    budget = search.budget
    caps = (budget.calls, budget.tokens, budget.dollars)
    result: dict[str, Any] = {}
    for end in ("expected", "low", "high"):
        values = totals[end]
        share = min(
            [1.0] + [cap / v for cap, v in zip(caps, values, strict=True) if cap and v > cap]
        )
        totals[end] = [v * share for v in values]
    for index, name in enumerate(("calls", "tokens", "dollars")):
        result[name] = {
            end: usd(totals[end][index]) if name == "dollars" else round(totals[end][index])
            for end in ("expected", "low", "high")
        }
    return result


def _proposals(
    search: Search, space: Space, truth: Truth, evaluations: int
) -> list[list[Candidate]]:
    """The batches the algorithm proposes when the scores are the simulated truth's."""
    scores: dict[Candidate, float] = {}
    weight = search._cost_weight()
    batches: list[list[Candidate]] = []
    count = 0
    algorithm = make_algorithm(
        search.algorithm, space, scores, seed=search.seed, batch=search.parallel
    )
    for batch in algorithm:
        batch = batch[: evaluations - count]
        for candidate in batch:
            scores[candidate] = truth.score(candidate) - weight * space.cost(candidate).dollars
        batches.append(batch)
        count += len(batch)
        if count >= evaluations:
            break
    return batches


class _Plan:
    """The distinct calls of a search's evaluations, with the chance each goes past the
    early-stopping cut."""

    def __init__(
        self, search: Search, space: Space, truth: Truth, tokens: TokenModel, dev: int
    ) -> None:
        self.search = search
        self.space = space
        self.truth = truth
        self.tokens = tokens
        self.names = Names()
        ext = search.settings.archon_async
        stopping = ext.early_stopping
        self.cut = dev
        if stopping.enabled and dev >= 10:
            self.cut = max(5, int(dev * stopping.first_fraction))
        self.dev = dev
        self.z = stopping.z
        self.judged = search._benchmark.scoring == "judge"
        self.judge_calls = (2 if ext.scoring != "single" else 1) if self.judged else 0
        self.calls: dict[int, Call] = {}
        self.keep: dict[int, float] = {}  # name -> chance no architecture asks it after the cut
        self.naive = [0.0, 0.0, 0.0]  # calls, tokens, dollars, no cache
        self.low_names: set[int] = set()
        self.best: float | None = None
        self.full: list[tuple[float, Candidate]] = []
        self.judge_model = _model_of(search, search.settings.judge_model)
        for model in search.models:  # the model ranking: each model alone, every question
            call = generator_call(self.names, model.model, 0)
            self._add(call, 1.0, first=True)
            for judgement in self.judgements(call.name):
                self._add(judgement, 1.0, first=True)
        baseline = _model_of(search, search.settings.baseline_model)
        if self.judge_calls == 2 and baseline:  # its answers, once per question
            self._add(generator_call(self.names, baseline, 0), 1.0, first=True)

    def add_batch(self, batch: Sequence[Candidate]) -> None:
        """Add one batch of proposals (early stopping compares with earlier batches)."""
        scores = []
        for candidate in batch:
            score = self.truth.score(candidate)
            on = 1.0 if self.best is None else _goes_on(score, self._bar(), self.cut, self.z)
            first = self.best is None
            calls = calls_of(self.space, candidate, self.names)
            for call in calls + self.judgements(calls[-1].name):
                self._add(call, on, first=first)
            scores.append(score)
            self.full.append((score, candidate))
        best = max(scores, default=None)
        if best is not None and (self.best is None or best > self.best):
            self.best = best

    def _bar(self) -> float:
        """What early stopping compares with: the lower end of the best full score's 95%
        interval on the dev questions (the evaluator's rule)."""
        assert self.best is not None
        p = min(1.0, max(0.0, self.best / 100.0))
        return self.best - 1.96 * 100.0 * math.sqrt(p * (1 - p) / max(1, self.dev))

    def judgements(self, answer: int) -> list[Call]:
        """The judge's calls on one answer (none for a benchmark scored without a judge)."""
        return [
            Call(self.names("judge", answer, swap), "judge", self.judge_model or "judge", 2)
            for swap in range(self.judge_calls)
        ]

    def _add(self, call: Call, on: float, *, first: bool, naive: bool = True) -> None:
        self.calls.setdefault(call.name, call)
        self.keep[call.name] = self.keep.get(call.name, 1.0) * (1.0 - on)
        if first:
            self.low_names.add(call.name)
        if naive:
            calls, tokens, dollars = self._price(call)
            self.naive[0] += calls * self.dev
            self.naive[1] += tokens * self.dev
            self.naive[2] += dollars * self.dev

    def _price(self, call: Call) -> tuple[float, float, float]:
        """Calls (parse retries included), tokens and dollars of one call on one question."""
        times = self.tokens.retries.get(call.kind, 1.0)
        tokens_in = self.tokens.input(call)
        tokens_out = self.tokens.output(call)
        dollars = cost_usd(call.model, round(tokens_in), round(tokens_out), DEFAULT_PRICES) or 0.0
        return times, times * (tokens_in + tokens_out), times * dollars

    def totals(self) -> dict[str, list[float]]:
        """Calls, tokens and dollars of the whole search on the dev questions."""
        expected = [0.0, 0.0, 0.0]
        low = [0.0, 0.0, 0.0]
        rest = self.dev - self.cut
        for name, call in self.calls.items():
            price = self._price(call)
            asked_after_cut = 1.0 - self.keep[name]
            for i in range(3):
                expected[i] += price[i] * (self.cut + rest * asked_after_cut)
                if name in self.low_names:
                    low[i] += price[i] * self.dev
                else:
                    low[i] += price[i] * self.cut
        return {"expected": expected, "low": low, "high": list(self.naive)}


def _held_out(plan: _Plan, totals: dict[str, list[float]], held: int) -> dict[str, list[float]]:
    """Add Archon's final ranking: the best architectures re-run on held-out questions."""
    count = plan.search.settings.number_of_archon_configs_for_final_ranking
    if not held or not count:
        return totals
    top = [c for _, c in sorted(plan.full, key=lambda sc: -sc[0])[:count]]
    names: dict[int, Call] = {}
    naive = [0.0, 0.0, 0.0]
    for candidate in top:
        calls = calls_of(plan.space, candidate, plan.names)
        for call in calls + plan.judgements(calls[-1].name):
            names[call.name] = call
            price = plan._price(call)
            for i in range(3):
                naive[i] += price[i] * held
    baseline = _model_of(plan.search, plan.search.settings.baseline_model)
    if plan.judge_calls == 2 and baseline:
        call = generator_call(plan.names, baseline, 0)
        names[call.name] = call
        for i, value in enumerate(plan._price(call)):
            naive[i] += value * held
    shared = [0.0, 0.0, 0.0]
    for call in names.values():
        price = plan._price(call)
        for i in range(3):
            shared[i] += price[i] * held
    return {
        "expected": [a + b for a, b in zip(totals["expected"], shared, strict=True)],
        "low": [a + b for a, b in zip(totals["low"], shared, strict=True)],
        "high": [a + b for a, b in zip(totals["high"], naive, strict=True)],
    }


def _model_of(search: Search, entry: str | dict[str, Any] | None) -> str:
    """The model id of the search file's judge or baseline entry ('' when none)."""
    resolved = search._resolve(entry)
    return resolved.model if resolved is not None else ""


def _goes_on(score: float, best: float, cut: int, z: float) -> float:
    """The chance that an architecture of expected ``score`` (points) is not stopped after
    ``cut`` questions when early stopping compares with ``best`` (the evaluator's rule:
    stopped when its mean plus ``z`` standard errors is below it)."""
    p = min(1.0, max(0.0, score / 100.0))
    stop = 0.0
    for k in range(cut + 1):
        mean = 100.0 * k / cut
        variance = 100.0**2 * k * (cut - k) / (cut * (cut - 1)) if cut > 1 else 0.0
        if mean + z * math.sqrt(variance / cut) < best:
            stop += math.comb(cut, k) * p**k * (1 - p) ** (cut - k)
    return 1.0 - stop


def _token_model(search: Search, dev: Sequence[Any]) -> tuple[TokenModel, dict[str, float] | None]:
    """The token model, and on the simulator the model ranking the search will find."""
    questions = [_query(item) for item in dev]
    ext = search.settings.archon_async
    if not search.simulate:
        model = TokenModel(
            chars_tokens,
            settings_replies(ext.answer_tokens),
            questions,
            source=f"replies of answer_tokens={ext.answer_tokens} (the search file), "
            "about 4 characters a token",
        )
        return model, None
    # The simulator's own usage count (what a simulated run's calls report).
    from ..simulate._replies import estimate_tokens

    runs, ranking = _pilot(search, dev)
    replies, retries = measured_replies(runs)
    merged = {**settings_replies(ext.answer_tokens), **replies}
    merged["judge"] = merged["generator"]
    model = TokenModel(
        estimate_tokens,
        merged,
        questions,
        retries=retries,
        source="replies measured by a pilot on the simulated provider "
        f"({_PILOT_QUESTIONS} questions, not counted), the simulator's token count",
    )
    return model, ranking


def _query(item: Any) -> str:
    messages = item.messages
    if isinstance(messages, str):
        return messages
    users = [m["content"] for m in messages if m.get("role") == "user"]
    return str(users[-1] if users else "")


async def _answers(engine: Any, items: Sequence[Any]) -> dict[str, str]:
    """Each item's answer by ``engine``, all at once."""
    answers: dict[str, str] = {}

    async def one(item: Any) -> None:
        answers[item.id] = (await engine.generate(item.messages)).text

    async with anyio.create_task_group() as group:
        for item in items:
            group.start_soon(one, item)
    return answers


def _pilot(
    search: Search, dev: Sequence[Any]
) -> tuple[list[tuple[Any, dict[str, int]]], dict[str, float] | None]:
    """On a private simulated provider with the search's settings (free; nothing cached):
    the pilot architectures on a few questions, and the model ranking exactly as the search
    will find it (each model alone on the dev questions; not for judged benchmarks)."""
    from .._engine import Engine
    from ..benchmarks import score_all
    from ..callpath import CallPath

    benchmark = search._benchmark

    async def rank(callpath: CallPath) -> dict[str, float]:
        scores = {}
        for ref in search.models:
            generator = {"type": "generator", "model": ref.model, "model_type": ref.model_type}
            config = {"name": ref.name, "layers": [[{**generator, "samples": 1}]]}
            async with Engine(config, callpath=callpath, seed=search.seed) as engine:
                answers = await _answers(engine, dev)
            report = await score_all(benchmark, dev, answers)
            scores[ref.model] = float(sum(1 for r in report.results if r.correct))
        return scores

    async def run() -> tuple[list[tuple[Any, dict[str, int]]], dict[str, float] | None]:
        models = [(m.model, m.model_type) for m in search.models]
        done = []
        # The search's simulator without its latency, limits and faults: the replies
        # depend on the settings that stay (seed, models, ground truth), not on those.
        settings = search.simulation_settings(list(dev)).model_copy(
            update={
                "latency_s": 0.0,
                "jitter_s": 0.0,
                "rpm": None,
                "keys": {},
                "fault_rate": 0.0,
                "request_log": 0,
            }
        )
        async with CallPath(simulate=settings) as callpath:
            ranking = None if benchmark.scoring == "judge" else await rank(callpath)
            for config, per_question in pilot_configs(models):
                async with Engine(config, callpath=callpath, seed=search.seed) as engine:
                    for item in dev[:_PILOT_QUESTIONS]:
                        result = await engine.generate(item.messages)
                        done.append((result.trace, per_question))
        return done, ranking

    # A thread of its own: the estimate may be asked for from inside an event loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, run).result()
