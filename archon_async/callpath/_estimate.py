"""`estimate`: the calls, tokens and dollars a run will spend, as a range, before any call.

The architecture is walked layer by layer, following how many candidates each layer leaves
and how many calls each built-in component makes for them (the component modules' own
docstrings say it). Three ends, one model of a reply each:

* low: no parse retry, no failed call, replies of `LOW_REPLY_TOKENS` (a one-word answer):
  what a run spends at the least, so a real run is at or above it;
* central: no parse retry, replies of `CENTRAL_REPLY_TOKENS` (a paragraph; ``max_tokens``
  if lower): a guess at a typical chat answer, for planning;
* high: every parse retry (`PARSE_RETRIES`), replies of the full ``max_tokens``, and every
  sample's request paying its prompt (as when a provider refuses ``n``).

The downstream components (ranker, fuser, critic...) quote the candidates in their prompts,
so the reply model drives their input tokens too: replies of a quarter of ``max_tokens``
(the low end until this session) put a run of the default architecture on the simulator at
five times what it used. Prompt tokens are counted as characters / 4; a request of ``n``
samples pays its prompt once (as OpenAI-compatible APIs bill ``n``) at the low and central
ends. Retries on provider errors and cache hits are not foreseen: they make a run cost more,
or less.

Calls and requests: a call is one sample (what the trace, budgets and ``--max-calls``
count); a request is one HTTP request. A generator's or fuser's samples go in requests of
``n`` where the provider takes it (its ``max_samples_per_request``, see `_samples`), so the
default architecture makes 12 calls a prompt in 4 requests at the low and central ends.
Whether a provider and model take ``n`` is learnt by sending it: the first request of
several samples is the probe (see `_sender`), and a refusal (a 400 naming ``n``) is
remembered where other runs look (the cache file, Redis). So, for each (model_type, model)
whose samples could go together:

* known to refuse (``refusals``: what the cache file recorded): every end counts its samples
  in requests of the most the refusal allowed (one a sample, usually), as the run sends them;
* not known: the high end counts one request a sample, plus the refused probe (a request and
  a call, once a run), as a refusing server makes the run send (a batch of 30 prompts of
  three samples on a server refusing ``n``: 91 requests and 91 calls, the high end said 42
  and 90 before); the low and central ends count requests of ``n``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .._architecture import Architecture, is_reward_model
from .._config import ComponentSpec, ProviderSettings
from .._exceptions import ArchonError
from .._pricing import DEFAULT_PRICES, cost_usd, usd

__all__ = ["CENTRAL_REPLY_TOKENS", "LOW_REPLY_TOKENS", "Estimate", "estimate"]

_PARSE_RETRIES = 3  # components._common.PARSE_RETRIES
#: Reply tokens at the low end: a one-word answer (a number, a choice).
LOW_REPLY_TOKENS = 1
#: Reply tokens at the central end (``max_tokens`` if lower): about a paragraph.
CENTRAL_REPLY_TOKENS = 256
_ENDS = 3  # low, central, high
# Components whose candidates list replaces nothing but is read (critic), or filtered.
_WRITES_CANDIDATES = {"generator", "fuser", "ranker", "verifier", "unit_test_evaluator"}


def _ends() -> list[int]:
    return [0] * _ENDS


@dataclass(slots=True)
class Estimate:
    """The expected spend of a run: each figure is a (low, central, high) list (see the
    module for what each end assumes).

    Attributes:
        prompts: the runs (prompts, or turns of multi-turn prompts) counted.
        calls: provider calls, one a sample (what budgets count).
        requests: HTTP requests (several samples in one where the provider takes ``n``).
        input_tokens: prompt tokens.
        output_tokens: completion tokens.
        cost_usd: estimated dollars at list prices (unpriced models count 0).
        unpriced_models: models with no known price.
        per_model: calls (low, central, high) by model.
    """

    prompts: int = 0
    calls: list[int] = field(default_factory=_ends)
    requests: list[int] = field(default_factory=_ends)
    input_tokens: list[int] = field(default_factory=_ends)
    output_tokens: list[int] = field(default_factory=_ends)
    cost_usd: list[float] = field(default_factory=lambda: [0.0] * _ENDS)
    unpriced_models: set[str] = field(default_factory=set)
    per_model: dict[str, list[int]] = field(default_factory=lambda: defaultdict(_ends))

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready copy: each figure as its [low, high] range, and ``central`` (the
        same figures at the central end)."""
        tokens = [a + b for a, b in zip(self.input_tokens, self.output_tokens, strict=True)]
        figures: dict[str, list[int] | list[float]] = {
            "calls": self.calls,
            "samples": self.calls,
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "tokens": tokens,
            "estimated_cost_usd": [usd(value) for value in self.cost_usd],
        }
        return {
            "prompts": self.prompts,
            **{name: [ends[0], ends[-1]] for name, ends in figures.items()},
            "central": {name: ends[1] for name, ends in figures.items()},
            "unpriced_models": sorted(self.unpriced_models),
            "per_model_calls": {m: [c[0], c[-1]] for m, c in sorted(self.per_model.items())},
        }


def _calls(spec: ComponentSpec, candidates: int) -> tuple[int, int, int]:
    """(low calls, high calls, candidates each call reads) of one component."""
    kind = spec.type
    if kind in ("generator", "fuser"):
        return spec.samples, spec.samples, candidates if kind == "fuser" else 0
    if kind == "ranker":  # a reply with no ranking is asked again, as a critic's is
        return (0, 0, 0) if is_reward_model(spec) else (1, 1 + _PARSE_RETRIES, candidates)
    if kind in ("critic", "unit_test_generator"):
        return 1, 1 + _PARSE_RETRIES, candidates if kind == "critic" else 0
    if kind == "verifier":  # a reasoning call then a verdict call per candidate
        return 2 * candidates, (2 + _PARSE_RETRIES) * candidates, 1
    if kind == "unit_test_evaluator":
        return candidates, (1 + _PARSE_RETRIES) * candidates, 1
    return spec.samples, spec.samples, candidates  # a custom component: a guess


def _left(spec: ComponentSpec, candidates: int) -> int:
    """How many candidates a candidate-writing component leaves."""
    if spec.type in ("generator", "fuser"):
        return spec.samples
    if spec.type == "ranker":
        return min(spec.top_k or candidates, candidates)
    if spec.type == "verifier" and spec.first_k:
        return min(spec.first_k, candidates)
    return candidates


def estimate(
    architecture: Architecture,
    prompts: Iterable[str | Sequence[Mapping[str, str]]],
    *,
    prices: Mapping[str, tuple[float, float]] = DEFAULT_PRICES,
    refusals: Mapping[tuple[str, str], int] | None = None,
    n_key: Callable[[ComponentSpec], tuple[str, str]] | None = None,
) -> Estimate:
    """The expected spend of running ``architecture`` once on each prompt (see the module).

    Args:
        architecture: what will run.
        prompts: each run's prompt: a string or a message list (only its length counts).
        prices: USD per million tokens (input, output) by model.
        refusals: the endpoints and models known to refuse ``n`` (keyed as `n_key` keys a
            component), with the most samples a request may ask of them
            (`ResponseCache.refusals`, `RedisLimits.refusals`); None: none known.
        n_key: the key of a component's refusal (`CallPath.n_key`: its model_type and
            endpoint, and its model); None: (model_type, model).
    """
    result = Estimate()
    sizes = _RequestSizes(_samples_per_request(architecture), refusals or {}, n_key)
    for prompt in prompts:
        chars = len(prompt) if isinstance(prompt, str) else sum(len(m["content"]) for m in prompt)
        result.prompts += 1
        _add_run(result, architecture, chars // 4 + 10, prices, sizes)
    if result.prompts:
        for _, model in sizes.probed:  # each refused once, at the high end
            result.calls[-1] += 1
            result.requests[-1] += 1
            result.per_model[model][-1] += 1
    return result


def _samples_per_request(architecture: Architecture) -> dict[str, int]:
    """How many samples one request may draw, by model_type: the provider's own
    ``max_samples_per_request`` (building a provider opens nothing), 1 where it has none."""
    most: dict[str, int] = {}
    for model_type in architecture.model_types():
        settings = architecture.providers.get(model_type) or ProviderSettings()
        try:
            provider = architecture.registry.build_provider(model_type, settings)
        except ArchonError:  # said when the run opens; one request a sample meanwhile
            most[model_type] = 1
            continue
        most[model_type] = max(1, int(getattr(provider, "max_samples_per_request", 1)))
    return most


class _RequestSizes:
    """How many samples a component's requests draw at each end, and the pairs whose
    refusal of ``n`` the high end foresees (``probed``: one refused probe each)."""

    def __init__(
        self,
        most: Mapping[str, int],
        refusals: Mapping[tuple[str, str], int],
        n_key: Callable[[ComponentSpec], tuple[str, str]] | None,
    ):
        self._most = most
        self._refusals = refusals
        self._n_key = n_key
        self._keys: dict[tuple[str, str, str | None], tuple[str, str]] = {}  # by spec
        self.probed: set[tuple[str, str]] = set()

    def requests(self, spec: ComponentSpec, calls: int, end: int) -> int:
        """The HTTP requests of a component's ``calls`` at ``end``: a generator's or fuser's
        samples go in requests of up to the provider's most (as `Sender.draw` sends them),
        the refusal's most where one is known, one a sample at the high end otherwise."""
        if spec.type not in ("generator", "fuser") or calls <= 1:
            return calls
        pair = self._key(spec)
        most = self._most.get(spec.model_type or "", 1)
        refused = self._refusals.get(pair)
        if refused is not None:
            most = min(most, max(refused, 1))
        elif most > 1 and end == _ENDS - 1:
            self.probed.add(pair)
            most = 1  # n is not known to be taken: as if the probe is refused
        return -(-calls // most)

    def _key(self, spec: ComponentSpec) -> tuple[str, str]:
        """The key of the spec's refusal of ``n`` (`n_key`), worked out once a spec."""
        if self._n_key is None:
            return spec.model_type or "", spec.model
        where = (spec.model_type or "", spec.model, spec.base_url)
        key = self._keys.get(where)
        if key is None:
            key = self._keys[where] = self._n_key(spec)
        return key


def _reply_tokens(spec: ComponentSpec) -> tuple[float, float, float]:
    """The tokens of one of ``spec``'s replies at the low, central and high end."""
    most = float(spec.max_tokens)
    return min(most, LOW_REPLY_TOKENS), min(most, CENTRAL_REPLY_TOKENS), most


def _add_run(
    result: Estimate,
    architecture: Architecture,
    prompt_tokens: int,
    prices: Mapping[str, tuple[float, float]],
    sizes: _RequestSizes,
) -> None:
    candidates = 0
    reply = [0.0] * _ENDS  # tokens of one candidate at each end
    for layer in architecture.layers:
        written = 0
        writes = False
        replies = [0.0] * _ENDS
        for spec in layer:
            calls_low, calls_high, reads = _calls(spec, candidates)
            out = _reply_tokens(spec)
            for end, calls in enumerate((calls_low, calls_low, calls_high)):
                requests = sizes.requests(spec, calls, end)
                # A request of n samples pays its prompt once; the high end as if n is refused.
                paying = calls if end == _ENDS - 1 else requests
                tokens_in = int(paying * (prompt_tokens + reads * reply[end]))
                tokens_out = int(calls * out[end])
                result.calls[end] += calls
                result.requests[end] += requests
                result.input_tokens[end] += tokens_in
                result.output_tokens[end] += tokens_out
                result.per_model[spec.model][end] += calls
                price = cost_usd(spec.model, tokens_in, tokens_out, prices)
                if price is None:
                    if calls:
                        result.unpriced_models.add(spec.model)
                else:
                    result.cost_usd[end] += price
            if spec.type in _WRITES_CANDIDATES:
                writes = True
                written += _left(spec, candidates)
                if spec.type in ("generator", "fuser"):
                    replies = list(out)
        if writes:
            candidates = written
            if any(replies):
                reply = replies
