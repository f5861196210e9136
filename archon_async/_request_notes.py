"""Load-time notes on requests a provider will send differently from what the config says.

A provider adapter that adapts requests to what a model accepts (an Anthropic ``max_tokens``
clamped to the model's output limit, an OpenAI reasoning model sent
``max_completion_tokens`` and no ``temperature``) says so through a ``request_notes``
classmethod; the architecture turns each note into a `ConfigWarning` naming the component.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ._config import ComponentSpec, ProviderSettings, format_location
from ._context import request_for
from ._registry import Registry

__all__ = ["request_notes"]


def request_notes(
    layers: Sequence[Sequence[ComponentSpec]],
    providers: Mapping[str, ProviderSettings],
    registry: Registry,
    source: str,
) -> list[str]:
    """The warning texts for every component whose requests its provider will adapt."""
    notes: list[str] = []
    for index, layer in enumerate(layers):
        for position, spec in enumerate(layer):
            if not spec.model_type:
                continue
            settings = providers.get(spec.model_type) or ProviderSettings()
            place = format_location(("layers", index, position))
            request = request_for(spec, ())
            notes.extend(
                f"{source}, {place}: {note}"
                for note in registry.request_notes(spec.model_type, request, settings)
            )
    return notes
