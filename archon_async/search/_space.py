"""The search space: every distinct architecture a search file describes, and what each costs.

A point of the space is a `Candidate` (in `._candidate`, re-exported here). Infeasible
points (over a per-query constraint) are not in the space at all, so no algorithm can
propose them.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from .._pricing import DEFAULT_PRICES, cost_usd
from ._candidate import AXES, Candidate, Cost
from ._models import ModelRef
from ._settings import SearchFile

__all__ = ["AXES", "Candidate", "Cost", "Space"]


class Space:
    """The feasible candidates of a search file, given the models in ranked order.

    Args:
        settings: the search file.
        models: the available models, best first (the power ranking).

    Attributes:
        axes: each raw axis and its choices, in `AXES` order.
        candidates: the feasible candidates, in grid order (Archon's nested loops).
        infeasible: how many distinct architectures the constraints removed.
    """

    def __init__(self, settings: SearchFile, models: Sequence[ModelRef]) -> None:
        self.settings = settings
        self.models = tuple(models)
        ext = settings.archon_async
        self.axes: tuple[tuple[str, tuple[Any, ...]], ...] = (
            ("model_top_k", tuple(settings.model_top_k_choices)),
            ("sample_top_k", tuple(settings.sample_top_k_choices)),
            ("fuser_layer_1", tuple(settings.fuser_layer_1_choices)),
            ("fuser_layer_2", tuple(settings.fuser_layer_2_choices)),
            ("fuser_layer_3", tuple(settings.fuser_layer_3_choices)),
            ("critic", tuple(ext.critic_choices)),
            ("ranker", tuple(ext.ranker_choices)),
            ("ranker_top_k", tuple(ext.ranker_top_k_choices)),
            ("final", tuple(ext.final_choices)),
        )
        # A search builds its space several times (to check it is not empty, to rank the
        # models, again once they are ranked): the same file and models enumerate the same.
        # Only dollars depend on the models' order (calls and tokens on their number), so
        # without a dollar limit any order of the same models enumerates the same.
        ordered = [(m.name, m.model) for m in self.models]
        dollars = ext.constraints.max_dollars_per_query is not None
        key = orjson.dumps(
            [settings.model_dump(mode="json"), ordered if dollars else sorted(ordered)],
            option=orjson.OPT_SORT_KEYS,
        )
        order = orjson.dumps(ordered)
        known = _RECENT.pop(key, None) or (order, *self._enumerate())
        _RECENT[key] = known
        while len(_RECENT) > 4:
            del _RECENT[next(iter(_RECENT))]
        self._distinct, self.candidates, self.positions, self.infeasible = known[3:]
        # Costs priced in another order are not these: priced again as they are asked.
        self._costs: dict[Candidate, Cost] = known[1] if known[0] == order else {}
        self._folds: dict[tuple[object, ...], _Totals] = known[2] if known[0] == order else {}
        self._index = {c: i for i, c in enumerate(self.candidates)}

    def _enumerate(self) -> _Enumeration:
        """Every raw vector canonicalised and checked: the costs and running totals computed
        on the way, the distinct candidates, the feasible ones (grid order), their positions
        and how many were infeasible."""
        self._costs = {}
        self._folds = {}
        seen: dict[Candidate, tuple[int, ...] | None] = {}
        sizes = [range(len(choices)) for _, choices in self.axes]
        for raw, where in zip(self.raw_points(), itertools.product(*sizes), strict=True):
            candidate = Candidate.from_raw(raw)
            if candidate not in seen:
                seen[candidate] = where if self._feasible(candidate) else None
            elif (
                seen[candidate] is not None
                and _packed(raw)
                and not _packed(self.values(seen[candidate] or ()))
            ):
                # The representative of (0, 3, 0) is (3, 0, 0): neighbours are then one
                # layer away, as a person would count them.
                seen[candidate] = where
        candidates = tuple(c for c, where in seen.items() if where is not None)
        return (
            self._costs,
            self._folds,
            tuple(seen),  # every distinct architecture, feasible or not (`why_empty`)
            candidates,
            # Per candidate, the choice index on each axis of the first raw vector giving it.
            tuple(seen[c] or () for c in candidates),
            sum(1 for where in seen.values() if where is None),
        )

    def __len__(self) -> int:
        return len(self.candidates)

    def __contains__(self, candidate: object) -> bool:
        return candidate in self._index

    def index(self, candidate: Candidate) -> int:
        """The candidate's position in `candidates` (KeyError if infeasible)."""
        return self._index[candidate]

    def raw_points(self) -> Iterator[tuple[Any, ...]]:
        """Every raw parameter vector, in grid order."""
        return itertools.product(*(choices for _, choices in self.axes))

    def values(self, position: Sequence[int]) -> tuple[Any, ...]:
        """The raw vector of a position (a choice index per axis)."""
        return tuple(choices[i] for (_, choices), i in zip(self.axes, position, strict=True))

    def candidate_of(self, raw: Sequence[Any]) -> Candidate | None:
        """The feasible candidate of a raw vector, or None when it is infeasible."""
        candidate = Candidate.from_raw(raw)
        return candidate if candidate in self._index else None

    def fingerprint(self) -> str:
        """A digest of everything that decides the space and its scores (to refuse a
        resume on another space)."""
        data = {
            "settings": self.settings.model_dump(mode="json"),
            "models": [m.name for m in self.models],
        }
        return hashlib.blake2b(
            orjson.dumps(data, option=orjson.OPT_SORT_KEYS), digest_size=8
        ).hexdigest()

    # -- cost -------------------------------------------------------------------------

    def models_of(self, candidate: Candidate) -> list[ModelRef]:
        """The models ``candidate`` calls (the best-ranked first: it also critiques, ranks,
        verifies and fuses last)."""
        return list(self.models[: max(1, candidate.model_top_k, *candidate.fusers)])

    def cost(self, candidate: Candidate) -> Cost:
        """Estimated calls, tokens and dollars of one query of ``candidate``."""
        cached = self._costs.get(candidate)
        if cached is None:
            cached = self._costs[candidate] = self._estimate(candidate)
        return cached

    def _estimate(self, c: Candidate) -> Cost:
        calls, tokens, dollars = _add(*self._stages(c))
        return Cost(calls=calls, tokens=tokens, dollars=round(dollars, 6))

    def _calls(self, c: Candidate) -> int:
        """`cost`'s calls alone (no tokens or dollars summed for the last stages)."""
        (calls, _, _), last = self._stages(c)
        return calls + sum(count for *_, count in last)

    def _stages(self, c: Candidate) -> tuple[_Totals, list[_Calls]]:
        """A query's calls in order: the running totals after the generators and fusion
        layers (each layer its critic, ranker and fusers), then the final stage's and final
        fuser's calls (model, input tokens, output tokens, how many such calls: a count, so
        that a choice of 10**9 samples is priced as quickly as 1). Candidates sharing a
        prefix of layers share its totals, kept per prefix, so a space of 100,000 candidates
        is priced once per distinct prefix, not call by call per candidate."""
        ext = self.settings.archon_async
        p, a = ext.prompt_tokens, ext.answer_tokens
        best = self.models[0].model
        prefix: tuple[object, ...] = (c.model_top_k, c.sample_top_k)
        totals = self._folds.get(prefix)
        if totals is None:
            samples = [(m.model, p, a, c.sample_top_k) for m in self.models[: c.model_top_k]]
            totals = self._folds[prefix] = _add(_START, samples)
        n = c.model_top_k * c.sample_top_k
        for width in c.fusers:
            prefix = (*prefix, width, c.critic, c.ranker_top_k)
            after = self._folds.get(prefix)
            if after is None:
                spend: list[_Calls] = []
                context = p + n * a
                if c.critic:
                    spend.append((best, context, n * a // 2, 1))
                    context += n * a // 2
                if c.ranker_top_k:
                    spend.append((best, context, 50, 1))
                    n = min(n, c.ranker_top_k)
                    context = p + n * a + (n * a // 2 if c.critic else 0)
                spend += [(m.model, context, a, 1) for m in self.models[:width]]
                after = self._folds[prefix] = _add(totals, spend)
            totals, n = after, width
        spend = []
        if c.final == "verifier":
            spend += [(best, p + a, a, n), (best, p + 2 * a, 20, n)]
        elif c.final == "unit_tests":
            spend += [(best, p, a, 1), (best, p + 2 * a, a // 2, n)]
            n = min(n, ext.final_top_k)
        if ext.add_final_fuser:
            spend.append((best, p + n * a, a, 1))
        return totals, spend

    def why_empty(self) -> str:
        """Why no architecture is feasible: each limit the cheapest architecture exceeds,
        with the least it needs (the message of the error a search raises)."""
        limits = self.settings.archon_async.constraints
        costs = [self.cost(candidate) for candidate in self._distinct]
        if limits.max_calls_per_query is not None:
            calls_name = "constraints.max_calls_per_query"
        else:
            calls_name = "maximum_inference_calls"
        checks = (
            (
                calls_name,
                limits.max_calls_per_query or self.settings.maximum_inference_calls,
                "calls",
                "{:,.0f}",  # whole numbers written out: 1,000,000,000,000, not 1e+12
            ),
            (
                "constraints.max_tokens_per_query",
                limits.max_tokens_per_query,
                "tokens",
                "{:,.0f}",
            ),
            (
                "constraints.max_dollars_per_query",
                limits.max_dollars_per_query,
                "dollars",
                "${:.6g}",
            ),
        )
        over = []
        for name, cap, what, shape in checks:
            least = min(getattr(cost, what) for cost in costs)
            if cap is not None and least > cap:
                over.append(
                    f"{name} is {shape.format(cap)} but the cheapest architecture needs "
                    f"{shape.format(least)} {what} per query: raise it to at least "
                    f"{shape.format(least)}"
                )
        if not over:
            over = ["no single architecture meets all the limits at once: raise one of them"]
        return (
            f"none of the space's {len(costs)} architectures is feasible: "
            + "; ".join(over)
            + " (or offer smaller choices: model_top_k_choices, sample_top_k_choices, the "
            "fuser layers, critic/ranker/final choices)"
        )

    def _feasible(self, candidate: Candidate) -> bool:
        limits = self.settings.archon_async.constraints
        max_calls = limits.max_calls_per_query or self.settings.maximum_inference_calls
        # Calls first: most of a large space is over them, and they need no token sums.
        if max_calls is not None and self._calls(candidate) > max_calls:
            return False
        if limits.max_tokens_per_query is None and limits.max_dollars_per_query is None:
            return True
        cost = self.cost(candidate)
        if limits.max_tokens_per_query is not None and cost.tokens > limits.max_tokens_per_query:
            return False
        return not (
            limits.max_dollars_per_query is not None and cost.dollars > limits.max_dollars_per_query
        )

    # -- architecture -----------------------------------------------------------------

    def archon_config(self, candidate: Candidate, *, name: str | None = None) -> dict[str, Any]:
        """The candidate as a plain Archon configuration (the list-of-layers form), which
        loads as an `Architecture` here and in Archon."""
        ext = self.settings.archon_async
        best = self.models[0]

        def component(kind: str, model: ModelRef, **extra: Any) -> dict[str, Any]:
            return model.component(
                kind, temperature=ext.temperature, max_tokens=ext.max_tokens, samples=1, **extra
            )

        layers: list[list[dict[str, Any]]] = [
            [
                component("generator", model) | {"samples": candidate.sample_top_k}
                for model in self.models[: candidate.model_top_k]
            ]
        ]
        # A top_k never exceeds the candidates its layer receives (the same selection, and
        # no load-time warning about it).
        n = candidate.model_top_k * candidate.sample_top_k
        for width in candidate.fusers:
            if candidate.critic:
                layers.append([component("critic", best)])
            if candidate.ranker_top_k:
                top_k = min(candidate.ranker_top_k, n)
                layers.append([component("ranker", best, top_k=top_k, use_critiques=True)])
            layers.append([component("fuser", model) for model in self.models[:width]])
            n = width
        if candidate.final == "verifier":
            layers.append([component("verifier", best)])
        elif candidate.final == "unit_tests":
            layers.append([component("unit_test_generator", best)])
            top_k = min(ext.final_top_k, n)
            # Archon's Unit_Test_Evaluator reads this key without a default (a KeyError
            # there when missing); False is our default, so the architecture evaluated here.
            evaluator = component(
                "unit_test_evaluator", best, top_k=top_k, remove_unit_tests_from_prompt=False
            )
            layers.append([evaluator])
        if ext.add_final_fuser:
            layers.append([component("fuser", best)])
        return {"name": name or f"itas-{candidate.key()}", "layers": layers}


#: What `Space._enumerate` finds (see there).
_Enumeration = tuple[
    dict[Candidate, "Cost"],
    dict[tuple[object, ...], "_Totals"],
    tuple[Candidate, ...],
    tuple[Candidate, ...],
    tuple[tuple[int, ...], ...],
    int,
]
#: The enumerations of the spaces built last (after the models' order they were priced in),
#: by the search file and models deciding them.
_RECENT: dict[bytes, tuple[bytes, *_Enumeration]] = {}

#: Calls, tokens and dollars so far (the dollars summed call by call, in call order).
_Totals = tuple[int, int, float]
_START: _Totals = (0, 0, 0)
#: Alike calls of a query: model, input tokens, output tokens, how many.
_Calls = tuple[str, int, int, int]


def _add(totals: _Totals, spend: list[_Calls]) -> _Totals:
    """``totals`` plus the calls of ``spend``, each priced at list price (an unpriced model
    adds no dollars)."""
    calls, tokens, dollars = totals
    for model, tokens_in, tokens_out, count in spend:
        calls += count
        tokens += (tokens_in + tokens_out) * count
        dollars += (cost_usd(model, tokens_in, tokens_out, DEFAULT_PRICES) or 0.0) * count
    return calls, tokens, dollars


def _packed(raw: Sequence[Any]) -> bool:
    """Whether a raw vector's fusion layers are all at the front (no 0 before a layer)."""
    layers = [int(v) for v in raw[2:5]]
    return all(layers[i] or not layers[i + 1] for i in range(2))
