"""``--estimate``: what a search is expected to send, before any call.

The estimate follows the search as it will run, with its response cache:

* **Which architectures** (`_walk`). Random and grid search propose the same
  architectures whatever the scores: those exactly. A model-based algorithm's proposals
  depend on the scores it sees: the estimate runs it on the scores a simulated run would
  see, drawn question by question from the simulated ground truth (the search's effects)
  with paired draws (architectures sharing stages right or wrong together, as they share
  calls), a stand-in for a real run's. One run's spend varies widely with its draws (by a
  quarter either way for 500 architectures), so the estimate is the mean of `PATHS` runs,
  says their 10th to 90th percentile (``likely``) and the least and most costly of them.
* **Which calls they send.** Every call of every architecture is named by what decides
  its request (`_sharing`); the search sends each distinct request once per question it
  is asked on, since the cache answers the repeats (the model ranking's answers included).
  A selection that hands on its input unchanged (a verifier shown one candidate, a ranker
  keeping the order shown) makes what follows it the request the architecture without it
  sends: drawn per selection call (`PassThrough`; on the simulator with the chances its
  pilot measured), `PASS_DRAWS` draws for random and grid search, one a walked path for
  the others. Racing's share counts the requests as named without it (`_race_share`).
* **Early stopping.** An architecture runs on the first part of the dev questions, and on
  the rest unless it is stopped: for random and grid search, the chance that it goes on
  follows from its expected score and the best before it (binomial per-question outcomes);
  for a model-based one, the walk's drawn scores stop it or not.
* **After the evaluations** (`_estimate_final`): racing's leaders and the finalists on
  the final-ranking questions, the final ranking's race on every further pass (each pass
  sends its survivors' requests anew: samples of their own) and the chosen architecture
  on the held-out report questions.
* **Tokens and dollars** per call from `TokenModel` (prompts built by the components'
  own prompt functions; replies measured by a pilot on the simulator, or from the search
  file's ``answer_tokens`` for a real run), at list prices.

The range: ``high`` is the naive sum (no cache hit at all, every architecture on every dev
question) of the most costly walked run, with every reply as long as the longest the pilot
measured of its kind and racing re-evaluating as many leaders as measured at most
(`_estimate_final.LEADER_TOP_UPS_HIGH`): tokens and dollars share few cache hits (the
shared calls are mostly the short generator ones), so their high end needs these margins
where the calls' does not. ``low`` assumes every architecture after the first batch is
stopped early.
"""

from __future__ import annotations

import concurrent.futures
import copy
import dataclasses
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any

import anyio
import numpy as np

from .._pricing import DEFAULT_PRICES, cost_usd, usd
from ._effects import QuestionSet
from ._estimate_final import _add, after_search
from ._sharing import Call, Names, PassThrough, calls_of, generator_call, pass_through_shares
from ._space import Candidate, Space
from ._spend import SPEND_JOURNAL
from ._tokens import (
    TokenModel,
    chars_tokens,
    measured_replies,
    pilot_configs,
    sent_replies,
    settings_replies,
)
from ._truth import Truth
from ._walk import SCORE_FREE, Step, walk

if TYPE_CHECKING:
    from ._run import Search

__all__ = ["estimate"]

_PILOT_QUESTIONS = 12
#: Runs walked for a model-based algorithm: one run's spend varies by a quarter either way
#: (measured, 500 architectures), so the estimate is their mean, and ``likely`` their
#: 10th to 90th percentile (greedy search at 16 evaluations: runs from -32% to +35% of
#: the mean, bench/RESULTS.md, stop 24-26).
PATHS = 20
#: The percentiles of the walked runs said as the ``likely`` range.
LIKELY = (10.0, 90.0)
#: Draws of which selections hand on their input unchanged (`PassThrough`) averaged for
#: random and grid search (a model-based algorithm's paths draw one each).
PASS_DRAWS = 6


def estimate(search: Search) -> dict[str, Any]:
    """The expected spend of ``search``: calls, tokens and dollars (expected, low, high)."""
    if search.oracle:
        return _oracle(search)
    dev, held = search.questions()
    report = len(search.report_questions())
    tokens, ranking, shares = _token_model(search, dev)
    if ranking is None:
        # The model ranking as the simulated truth has it (each model alone, its chance).
        chances = QuestionSet(search.effects, [m.model for m in search.models])
        ranking = {m.model: float(chances.chance(m.model).mean()) for m in search.models}
    ranked = sorted(search.models, key=lambda m: -ranking[m.model])
    space = Space(search.settings, ranked)
    evaluations = min(search.planned_architectures(), len(space))
    paths = _paths(search, space, tokens, shares, dev, evaluations, (len(held), report))
    totals = {
        end: [sum(path[end][i] for path in paths) / len(paths) for i in range(3)]
        for end in ("expected", "low")
    }
    totals["high"] = [max(path["high"][i] for path in paths) for i in range(3)]
    if search.algorithm not in SCORE_FREE:  # each walked run's spend: the likely range
        runs = np.array([path["expected"] for path in paths], dtype=float)
        totals["likely_low"], totals["likely_high"] = np.percentile(runs, LIKELY, axis=0).tolist()
    spread = [round(path["expected"][0]) for path in paths]
    capped = _cap(search, totals)
    missing = search.unpriced_models()
    return {
        "mode": search.mode,
        "architectures": evaluations,
        "space_size": len(space),
        **({"unpriced_models": missing} if missing else {}),
        "dev_questions": len(dev),
        "held_out_questions": len(held),
        "report_questions": report,
        **capped,
        "cache_share": round(totals["expected"][0] / max(1.0, totals["high"][0]), 4),
        **(
            {"paths": {"count": len(spread), "calls": [min(spread), max(spread)]}}
            if search.algorithm not in SCORE_FREE
            else {}
        ),
        **_racing(search, paths),
        "note": _note(search, tokens, missing),
    }


def _racing(search: Search, paths: list[dict[str, list[float]]]) -> dict[str, Any]:
    """Racing's expected part of the calls (``racing``: ``calls``, ``max_share``), when
    the search races (a final ranking)."""
    raced = [path["racing"][0] for path in paths if "racing" in path]
    if not raced:
        return {}
    share = search.settings.archon_async.racing.max_share
    return {"racing": {"calls": round(sum(raced) / len(raced)), "max_share": share}}


def _oracle(search: Search) -> dict[str, Any]:
    """An oracle search's estimate: nothing is called."""
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


def _paths(
    search: Search,
    space: Space,
    tokens: TokenModel,
    shares: dict[str, float],
    dev: list[Any],
    evaluations: int,
    after: tuple[int, int],
) -> list[dict[str, list[float]]]:
    """The spend (expected, low, high: calls, tokens, dollars) of each walked run: random
    and grid search's one walk with `PASS_DRAWS` draws of the selections handing on their
    input (``shares``: `pass_through_shares`), `PATHS` for a model-based algorithm;
    ``after``: the final-ranking and report questions."""
    truth = Truth(space, search.effects, judged=search._benchmark.scoring == "judge")
    score_free = search.algorithm in SCORE_FREE
    walked = walk(search, space, truth, len(dev), evaluations) if score_free else []
    sets = _QuestionSets.of(search, dev)
    paths = []
    for draws in range(PASS_DRAWS if score_free else PATHS):
        passes = PassThrough(shares, seed=search.seed + draws)
        plan = _Plan(search, space, tokens, len(dev), turns=_turns(dev), passes=passes, sets=sets)
        batches = walked or walk(search, space, truth, len(dev), evaluations, draws=draws)
        for batch in batches:
            plan.add_batch(batch)
        # Random and grid search's finalist picks (`after_search`) shared by the draws.
        part = (draws, PASS_DRAWS) if score_free else (0, 1)
        paths.append(after_search(plan, plan.totals(), *after, part=part))
    return paths


def _note(search: Search, tokens: TokenModel, missing: list[str]) -> str:
    """What the estimate assumes, in words."""
    return (
        "with the response cache: each distinct request is sent once per question "
        "(the model ranking's answers reused; what follows a selection that hands on its "
        "input unchanged asked as without it); "
        + (
            "early stopping by its chance under the simulated ground truth; "
            if search.algorithm in SCORE_FREE
            else f"the mean of {PATHS} runs on scores drawn from the simulated ground "
            "truth (paired, as a run's are; 'likely': their 10th to 90th percentile, "
            "'paths': the calls of the least and most costly of them); "
        )
        + "the final ranking's race to its last pass (each pass anew; racing within "
        "racing.max_share of the evaluations' calls) and the chosen "
        "architecture's run on the report questions; "
        "parse retries as measured; "
        f"tokens: {tokens.source}; dollars at list prices"
        + (f" (no price for {', '.join(missing)}: not in them)" if missing else "")
        + "; "
        "high: no cache at all, the most costly run, the longest replies measured and "
        "the most racing measured; low: every architecture after the first batch "
        "stopped early"
    )


def _cap(search: Search, totals: dict[str, list[float]]) -> dict[str, Any]:
    """Calls, tokens and dollars as the result's fields (``likely``: the walked runs'
    10th to 90th percentile, for a model-based algorithm), scaled down where a budget
    stops the search first."""
    budget = search.budget
    caps = (budget.calls, budget.tokens, budget.dollars)
    result: dict[str, Any] = {}
    for end in totals:
        values = totals[end]
        share = min(
            [1.0] + [cap / v for cap, v in zip(caps, values, strict=True) if cap and v > cap]
        )
        totals[end] = [v * share for v in values]
    for index, name in enumerate(("calls", "tokens", "dollars")):

        def figure(end: str, index: int = index, name: str = name) -> Any:
            return usd(totals[end][index]) if name == "dollars" else round(totals[end][index])

        result[name] = {end: figure(end) for end in ("expected", "low", "high")}
        if "likely_low" in totals:
            result[name]["likely"] = [figure("likely_low"), figure("likely_high")]
    return result


@dataclasses.dataclass(frozen=True)
class _QuestionSets:
    """The texts of the questions a search asks apart from the dev ones (a prompt's
    tokens are those of the questions it is sent with: 20 questions of Arena-Hard average
    32 to 85 tokens by set), and how many of the model ranking's questions are dev ones.

    Attributes:
        texts: ``ranking``, ``final`` (final-ranking), ``selection`` (dev and
            final-ranking: the race's passes) and ``report`` questions' texts.
        ranking: the model ranking's questions.
        ranking_in: how many of them are ``dev``, ``final`` and ``report`` questions
            (a seeded sample of the benchmark, not a set of its own): the ranking's calls
            there are the architectures' own where they ask the same, answered once.
    """

    texts: dict[str, list[str]]
    ranking: int
    ranking_in: dict[str, int]

    @classmethod
    def of(cls, search: Search, dev: list[Any]) -> _QuestionSets:
        """The sets of ``search`` whose dev questions are ``dev``."""
        final, report = search.questions()[1], search.report_questions()
        ranking = search.ranking_questions(dev)
        texts = {
            "ranking": [_query(item) for item in ranking],
            "final": [_query(item) for item in final or dev],
            "selection": [_query(item) for item in [*dev, *final]],
            "report": [_query(item) for item in report or dev],
        }
        ranked = {item.id for item in ranking}
        within = {
            name: sum(1 for item in items if item.id in ranked)
            for name, items in (("dev", dev), ("final", final), ("report", report))
        }
        return cls(texts, len(ranking), within)


class _Plan:
    """The distinct calls of a search's evaluations, with the chance each goes past the
    early-stopping cut."""

    def __init__(
        self,
        search: Search,
        space: Space,
        tokens: TokenModel,
        dev: int,
        *,
        turns: float = 1.0,
        passes: PassThrough | None = None,
        sets: _QuestionSets | None = None,
    ) -> None:
        self.search = search
        # The other questions' texts (None: the dev ones stand for every set) and this
        # plan on each of them (`on`).
        self.sets = sets
        self._on: dict[str, _Plan] = {}
        # Which selections hand on their input (the calls sent); racing's share counts
        # the names without them (`_race_share`), as `evaluated` does.
        self.passes = passes
        self._calls: dict[Candidate, list[Call]] = {}  # `calls_of`, once per candidate
        self._prices: dict[tuple[Call, bool], tuple[float, float, float]] = {}
        # Runs of an architecture per question beyond the first (MT-Bench: 1 more turn).
        self.later_turns = max(0, round(turns) - 1)
        self.space = space
        self.tokens = tokens
        self.upper = tokens.upper()
        self.names = Names()
        ext = search.settings.archon_async
        stopping = ext.early_stopping
        self.cut = dev
        if stopping.enabled and dev >= 10:
            self.cut = max(5, int(dev * stopping.first_fraction))
        self.dev = dev
        self.judged = search._benchmark.scoring == "judge"
        from ..benchmarks import judge_kind

        # As the evaluator judges: pairwise (both orders) or one rating (MT-Bench's kind).
        pairwise = self.judged and ext.scoring != "single"
        kind = judge_kind(search._benchmark) if pairwise else "rating"
        self.judge_calls = (2 if kind == "pairwise" else 1) if self.judged else 0
        self.calls: dict[int, Call] = {}
        self.keep: dict[int, float] = {}  # name -> chance no architecture asks it after the cut
        self.naive = [0.0, 0.0, 0.0]  # calls, tokens, dollars, no cache
        self.low_names: set[int] = set()
        # name -> chance no evaluation asks it after the cut (the model ranking's aside).
        self.evaluated: dict[int, float] = {}
        self.first = True
        self.full: list[tuple[float, Candidate]] = []
        self.judge_model = _model_of(search, search.settings.judge_model)
        # The model ranking: each model alone on the ranking questions (the dev ones unless
        # the search file samples its own), judged there; name -> its call.
        self.ranking: dict[int, Call] = {}
        for model in search.models:
            call = generator_call(self.names, model.model, 0)
            for each in self.turns_of([call], ("ranking", model.model)):
                self.ranking[each.name] = each
            for judgement in self.judgements(call.name):
                self.ranking[judgement.name] = judgement
        baseline = _model_of(search, search.settings.baseline_model)
        if self.judge_calls == 2 and baseline:  # its answers, once per question
            for each in self.turns_of([generator_call(self.names, baseline, 0)], "baseline"):
                self._add(each, 1.0, first=True)
                if sets is not None:  # the ranking's judge reads them there too
                    self.ranking[each.name] = each
        if sets is None:  # the ranking on the dev questions: every one of them
            for each in self.ranking.values():
                self._add(each, 1.0, first=True)
            self.ranking = {}
        else:
            for each in self.ranking.values():
                self.naive = [
                    a + b * sets.ranking
                    for a, b in zip(self.naive, self._price(each, upper=True), strict=True)
                ]

    def turns_of(self, calls: list[Call], owner: Hashable) -> list[Call]:
        """``calls`` (a question's first turn) and those of its later turns: a later turn's
        prompt holds the conversation so far, the answers of that very architecture
        (``owner``), so no other architecture asks it."""
        later = [
            dataclasses.replace(call, name=self.names("turn", turn, owner, call.name))
            for turn in range(1, self.later_turns + 1)
            for call in calls
        ]
        return calls + later

    def add_batch(self, batch: Sequence[Step]) -> None:
        """Add one batch of the walk (the first batch is what ``low`` runs whole)."""
        for step in batch:
            key = step.candidate.key()
            for call in self.calls_of(step.candidate):
                self._add(call, step.on, first=self.first)
            named = calls_of(self.space, step.candidate, self.names)
            for call in self.turns_of(named, key) + self.judgements(named[-1].name):
                self.evaluated[call.name] = self.evaluated.get(call.name, 1.0) * (1.0 - step.on)
            self.full.append((step.score, step.candidate))
        if batch:
            self.first = False

    def calls_of(self, candidate: Candidate) -> list[Call]:
        """The requests one question of ``candidate`` sends (every turn, its judge's
        included), selections handing on their input as drawn."""
        calls = self._calls.get(candidate)
        if calls is None:
            named = calls_of(self.space, candidate, self.names, self.passes)
            calls = self.turns_of(named, candidate.key()) + self.judgements(named[-1].name)
            self._calls[candidate] = calls
        return calls

    def named(self) -> _Plan:
        """This plan with every selection taken to change its input: the requests as
        racing's share names them (`_race_share`)."""
        named = copy.copy(self)
        named.passes, named._calls, named._on = None, {}, {}
        return named

    def on(self, questions: str) -> _Plan:
        """This plan priced on other questions (`_QuestionSets.texts`' ``questions``),
        or as it is when it has none."""
        if self.sets is None:
            return self
        held = self._on.get(questions)
        if held is None:
            held = self._on[questions] = copy.copy(self)
            held.tokens = self.tokens.on(self.sets.texts[questions])
            held.upper = held.tokens.upper()
            held._prices, held._on = {}, {}
        return held

    def evaluation_calls(self) -> dict[str, float]:
        """The evaluations' own calls on the dev questions, each distinct request once a
        question, as racing's share counts them (`_race_share`): ``expected``, ``low``."""
        rest = self.dev - self.cut
        expected = sum(self.cut + rest * (1.0 - keep) for keep in self.evaluated.values())
        low = sum(self.dev if n in self.low_names else self.cut for n in self.evaluated)
        return {"expected": expected, "low": low}

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
            calls, tokens, dollars = self._price(call, upper=True)
            self.naive[0] += calls * self.dev
            self.naive[1] += tokens * self.dev
            self.naive[2] += dollars * self.dev

    def _price(self, call: Call, *, upper: bool = False) -> tuple[float, float, float]:
        """Calls (parse retries included), tokens and dollars of one call on one question
        (``upper``: its replies as long as the longest measured)."""
        price = self._prices.get((call, upper))
        if price is None:
            price = self._prices[call, upper] = self._priced(call, upper)
        return price

    def _priced(self, call: Call, upper: bool) -> tuple[float, float, float]:
        model = self.upper if upper else self.tokens
        times = model.retries.get(call.kind, 1.0)
        tokens_in = model.input(call)
        tokens_out = model.output(call)
        dollars = cost_usd(call.model, round(tokens_in), round(tokens_out), DEFAULT_PRICES) or 0.0
        return times, times * (tokens_in + tokens_out), times * dollars

    def totals(self) -> dict[str, list[float]]:
        """Calls, tokens and dollars of the whole search on the dev questions."""
        expected = [0.0, 0.0, 0.0]
        low = [0.0, 0.0, 0.0]
        rest = self.dev - self.cut
        overlap = self.sets.ranking_in["dev"] if self.sets is not None else 0
        for name, call in self.calls.items():
            price = self._price(call)
            asked = self.cut + rest * (1.0 - self.keep[name])
            asked_low = float(self.dev) if name in self.low_names else self.cut
            if name in self.ranking:  # and on the ranking's dev questions it skipped
                asked += overlap * (1.0 - asked / self.dev)
                asked_low += overlap * (1.0 - asked_low / self.dev)
            _add(expected, price, asked)
            _add(low, price, asked_low)
        if self.sets is not None:
            ranking = self.on("ranking")
            for name, call in self.ranking.items():
                # The ranking's questions beyond the dev ones, and its dev ones when no
                # architecture asks the same.
                apart = ranking._price(call)
                _add(expected, apart, self.sets.ranking - overlap)
                _add(low, apart, self.sets.ranking - overlap)
                if name not in self.calls:
                    _add(expected, self._price(call), overlap)
                    _add(low, self._price(call), overlap)
        return {"expected": expected, "low": low, "high": list(self.naive)}


def _turns(questions: Sequence[Any]) -> float:
    """Runs of an architecture per question: one a turn (MT-Bench's two), else one."""
    return sum(len(getattr(q, "turns", None) or ()) or 1 for q in questions) / max(
        1, len(questions)
    )


def _model_of(search: Search, entry: str | dict[str, Any] | None) -> str:
    """The model id of the search file's judge or baseline entry ('' when none)."""
    resolved = search._resolve(entry)
    return resolved.model if resolved is not None else ""


def _token_model(
    search: Search, dev: Sequence[Any]
) -> tuple[TokenModel, dict[str, float] | None, dict[str, float]]:
    """The token model, on the simulator the model ranking the search will find, and the
    share of selections handing on their input unchanged (`pass_through_shares`, measured
    by the pilot on the simulator; none measured for a real run)."""
    questions = [_query(item) for item in dev]
    ext = search.settings.archon_async
    judge = _judge_text(search)
    if not search.simulate:
        measured = sent_replies(search.run_dir / SPEND_JOURNAL)
        if measured is not None:
            reply, calls = measured
            source = (
                f"replies of {reply:.0f} tokens a call, measured on the {calls:,} calls this "
                "search sent already (its run directory's spend journal), prompts about 4 "
                "characters a token"
            )
            model = TokenModel(
                chars_tokens, settings_replies(reply), questions, source=source, judge=judge
            )
            return model, None, {}
        source = (
            f"replies assumed to be answer_tokens={ext.answer_tokens} tokens a call (nothing "
            "measured yet: set archon_async.answer_tokens in the search file to your "
            "models' usual reply length, as short replies cost far less), prompts about 4 "
            "characters a token"
        )
        replies = settings_replies(ext.answer_tokens)
        return TokenModel(chars_tokens, replies, questions, source=source, judge=judge), None, {}
    # The simulator's own usage count (what a simulated run's calls report).
    from ..simulate._replies import estimate_tokens

    runs, ranking, verdicts = _pilot(search, dev)
    replies, retries = measured_replies(runs)
    merged = {**settings_replies(ext.answer_tokens), **replies}
    longest, _ = measured_replies(runs, longest=True)
    # The judge's replies as the pilot measured them (a verdict is shorter than an answer).
    merged["judge"] = sum(verdicts) / len(verdicts) if verdicts else merged["generator"]
    longest["judge"] = max(verdicts, default=longest.get("generator", merged["judge"]))
    model = TokenModel(
        estimate_tokens,
        merged,
        questions,
        retries=retries,
        longest=longest,
        source="replies measured by a pilot on the simulated provider "
        f"({_PILOT_QUESTIONS} questions, not counted), the simulator's token count",
        judge=judge,
    )
    return model, ranking, pass_through_shares(trace for trace, _ in runs)


def _judge_text(search: Search) -> Callable[[str, str], str] | None:
    """What a judge call sends for a question's text and an answer (both answers of a
    pairwise judgement that long), built by the benchmark's own judge prompt; None when
    the benchmark is not judged."""
    from ..benchmarks import BenchmarkItem, build_judge_messages

    benchmark = search._benchmark
    if benchmark.scoring != "judge":
        return None

    def text(query: str, answer: str) -> str:
        item = BenchmarkItem(id="estimate", messages=({"role": "user", "content": query},))
        item = dataclasses.replace(item, turns=(query,))
        messages = build_judge_messages(benchmark, item, answer, baseline=answer)
        return "\n".join(str(message["content"]) for message in messages)

    return text


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


_PilotRuns = tuple[list[tuple[Any, dict[str, int]]], dict[str, float] | None, list[float]]


def _pilot(search: Search, dev: Sequence[Any]) -> _PilotRuns:
    """On a private simulated provider with the search's settings (free; nothing cached):
    the pilot architectures on a few questions, the model ranking exactly as the search
    will find it (each model alone on the dev questions; for a judged benchmark the run's own
    ranking code, the judge against the baseline on the ranking questions), and on a judged
    benchmark the judge's reply tokens on a few judgements."""
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

    async def judged_rank(callpath: CallPath) -> dict[str, float]:
        # The run's own ranking (each model alone on the ranking questions, scored by the
        # judge against the baseline) on the pilot's call path: the simulator is seeded,
        # so it finds the run's order of the models (the truth's order may differ).
        from .._progress import BatchStats
        from ._evaluators import engine_evaluators
        from ._space import Space

        evaluator_for = engine_evaluators(search, callpath, BatchStats(total=0))
        return await evaluator_for(Space(search.settings, search.models)).rank_models()

    async def verdicts(callpath: CallPath, answer: str) -> list[float]:
        # The judge on a few questions, the pilot's answer judged against itself.
        from ..benchmarks import build_judge_messages
        from ._evaluators import _single

        config = _single(search._resolve(search.settings.judge_model))
        if config is None:
            return []
        async with Engine(config, callpath=callpath, seed=search.seed) as judge:
            found = []
            for item in dev[:_PILOT_QUESTIONS]:
                given = [answer] * max(1, len(item.turns))
                messages = build_judge_messages(benchmark, item, given, baseline=answer)
                found.append((await judge.generate(messages)).trace.output_tokens)
        return [float(tokens) for tokens in found]

    async def run() -> _PilotRuns:
        models = [(m.model, m.model_type) for m in search.models]
        done = []
        judged: list[float] = []
        # The search's simulator without its latency, limits and faults: the replies
        # depend on the settings that stay (seed, models, ground truth), not on those.
        questions = list(dev)
        if benchmark.scoring == "judge":  # the run's server knows every question it asks
            first, final, report = search._questions.splits()
            questions = [*first, *final, *search.ranking_questions(first), *report]
        settings = search.simulation_settings(questions).model_copy(
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
            if benchmark.scoring == "judge":
                ranking = await judged_rank(callpath)
            else:
                ranking = await rank(callpath)
            for config, per_question in pilot_configs(models):
                async with Engine(config, callpath=callpath, seed=search.seed) as engine:
                    for item in dev[:_PILOT_QUESTIONS]:
                        result = await engine.generate(item.messages)
                        done.append((result.trace, per_question))
            if benchmark.scoring == "judge" and done:
                judged = await verdicts(callpath, result.text)
        return done, ranking, judged

    # A thread of its own: the estimate may be asked for from inside an event loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, run).result()
