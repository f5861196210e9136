"""Load-time warnings for values that load but cannot do what their author meant.

A ``top_k`` larger than the candidates its component can receive, a ``max_tokens`` no model
writes, an architecture that makes thousands of calls for every prompt, a rate limit that
allows one request a year: each is valid JSON and a valid setting, so it loads, with a
warning that names the place and what it implies. The counts are upper bounds worked out
from the config alone (every sample succeeding, every candidate judged); custom components
make them unknown from that layer on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ._config import ComponentSpec, ProviderSettings, format_location

__all__ = [
    "CALLS_PER_PROMPT_WARNING",
    "MAX_TOKENS_WARNING",
    "calls_per_prompt",
    "sanity_notes",
]

#: Calls per prompt above which an architecture is reported (Archon's published configs
#: make at most about 200: 100 samples, a unit test generator and 100 evaluations).
CALLS_PER_PROMPT_WARNING = 1_000
#: A ``max_tokens`` above this is more than any model writes in one reply.
MAX_TOKENS_WARNING = 1_000_000
# Rates below these make a call wait more than a minute before it is sent.
_SLOW_RPM = 1.0
_SLOW_TPM = 1_000.0
# A ranker without top_k keeps this many (components.ranker.DEFAULT_TOP_K).
_RANKER_DEFAULT_TOP_K = 5
# The selection sizes each built-in component reads.
_SELECTIONS = {
    "ranker": ("top_k",),
    "verifier": ("first_k",),
    "unit_test_evaluator": ("top_k", "first_k"),
}


@dataclass(frozen=True, slots=True)
class _Flow:
    """One component's effect: the candidates it writes (None: it writes none) and its calls,
    as upper bounds; ``known`` is False for a custom component."""

    writes: int | None
    calls: int
    known: bool = True


def _flow(spec: ComponentSpec, incoming: int) -> _Flow:
    kind = spec.type
    if kind in ("generator", "fuser"):
        return _Flow(spec.samples, spec.samples)
    if kind == "ranker":
        calls = 0 if incoming <= 1 or "pairrm" in spec.model.lower() else 1
        return _Flow(min(incoming, spec.top_k or _RANKER_DEFAULT_TOP_K), calls)
    if kind == "verifier":
        return _Flow(incoming, 2 * incoming)
    if kind == "unit_test_evaluator":
        return _Flow(min(incoming, spec.top_k or incoming), incoming)
    if kind in ("critic", "unit_test_generator"):
        return _Flow(None, 1)
    return _Flow(None, 0, known=False)


def _too_many(spec: ComponentSpec, incoming: int, where: str) -> list[str]:
    """Warnings for a selection size larger than the candidates the component receives."""
    notes = []
    for key in _SELECTIONS.get(spec.type, ()):
        value = getattr(spec, key)
        if value is not None and value > incoming:
            notes.append(
                f"{where}.{key}: {value} is more than the {incoming} candidate"
                f"{'s' if incoming != 1 else ''} this {spec.type} can receive from the layers "
                f"before it; it keeps at most {incoming}"
            )
    return notes


def calls_per_prompt(layers: Sequence[Sequence[ComponentSpec]]) -> list[int] | None:
    """The most calls each layer makes for one prompt (before retries), or None when a
    custom component makes the counts unknown."""
    incoming, counts = 0, []
    for layer in layers:
        flows = [_flow(spec, incoming) for spec in layer]
        if not all(flow.known for flow in flows):
            return None
        counts.append(sum(flow.calls for flow in flows))
        written = [flow.writes for flow in flows if flow.writes is not None]
        incoming = sum(written) if written else incoming
    return counts


def sanity_notes(
    layers: Sequence[Sequence[ComponentSpec]],
    providers: Mapping[str, ProviderSettings],
    source: str,
) -> list[str]:
    """The warnings of a validated architecture (see the module docstring)."""
    notes = _component_notes(layers, source)
    counts = calls_per_prompt(layers)
    if counts is not None and sum(counts) > CALLS_PER_PROMPT_WARNING:
        biggest = max(range(len(counts)), key=counts.__getitem__)
        notes.append(
            f"{source}, {format_location(('layers', biggest))}: this architecture makes up to "
            f"{sum(counts):,} calls per prompt ({counts[biggest]:,} in this layer: "
            f"{_layer_shape(layers[biggest])}); a batch of 1,000 prompts is up to "
            f"{1000 * sum(counts):,} calls. Lower 'samples' if that is not meant"
        )
    for model_type, settings in providers.items():
        notes.extend(_rate_notes(model_type, settings, counts, source))
    return notes


def _component_notes(layers: Sequence[Sequence[ComponentSpec]], source: str) -> list[str]:
    notes: list[str] = []
    incoming: int | None = 0
    for index, layer in enumerate(layers):
        for position, spec in enumerate(layer):
            where = f"{source}, {format_location(('layers', index, position))}"
            if spec.max_tokens > MAX_TOKENS_WARNING:
                notes.append(
                    f"{where}.max_tokens: {spec.max_tokens:,} is far more than any model writes "
                    "in one reply (output limits are in the thousands to hundreds of thousands "
                    "of tokens); providers refuse or cut it: give what an answer needs"
                )
            if incoming is not None and index > 0:
                notes.extend(_too_many(spec, incoming, where))
        if incoming is not None:
            flows = [_flow(spec, incoming) for spec in layer]
            written = [flow.writes for flow in flows if flow.writes is not None]
            known = all(flow.known for flow in flows)
            incoming = (sum(written) if written else incoming) if known else None
    return notes


def _layer_shape(layer: Sequence[ComponentSpec]) -> str:
    groups: dict[tuple[str, int], int] = {}
    for spec in layer:
        if spec.type in ("generator", "fuser"):
            groups[(spec.type, spec.samples)] = groups.get((spec.type, spec.samples), 0) + 1
    if not groups:
        return f"{len(layer)} component{'s' if len(layer) != 1 else ''}"
    return ", ".join(
        f"{count} {kind}{'s' if count != 1 else ''} x {samples:,} samples"
        for (kind, samples), count in groups.items()
    )


def _rate_notes(
    model_type: str, settings: ProviderSettings, counts: list[int] | None, source: str
) -> list[str]:
    notes = []
    calls = sum(counts) if counts else None
    for key in ("rpm", "key_rpm", "tpm", "key_tpm"):
        value = getattr(settings, key)
        slow = _SLOW_TPM if key.endswith("tpm") else _SLOW_RPM
        if value is None or value >= slow:
            continue
        where = f"{source}, {format_location(('providers', model_type, key))}"
        if key.endswith("rpm"):
            wait = 60.0 / value
            what = f"allows one request every {_duration(wait)}"
            if calls:
                per_prompt = _duration(wait * calls)
                what += f"; one prompt of this architecture ({calls} calls) takes {per_prompt}"
        else:
            wait = 60.0 * 1000 / value
            what = f"makes a 1,000-token call wait {_duration(wait)}"
        notes.append(f"{where}: {value:g} {what}; is the unit per minute meant?")
    return notes


def _duration(seconds: float) -> str:
    for unit, size in (
        ("years", 365.25 * 86400),
        ("days", 86400),
        ("hours", 3600),
        ("minutes", 60),
    ):
        if seconds >= size:
            amount = seconds / size
            return f"{amount:,.0f} {unit}" if amount >= 100 else f"{amount:.3g} {unit}"
    return f"{seconds:.3g} s"
