"""Provider settings given as dicts or `ProviderSettings`, merged and validated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .._config import ProviderSettings, format_location
from .._exceptions import ConfigError
from .._redact import redacted_urls
from .._words import closest

if TYPE_CHECKING:
    from .._registry import Registry

__all__ = ["validated_settings"]


def validated_settings(
    given: Mapping[str, ProviderSettings | Mapping[str, Any]] | None,
    base: Mapping[str, ProviderSettings] | None = None,
    *,
    registry: Registry | None = None,
    source: str | None = None,
    root: tuple[str, ...] = ("providers",),
) -> dict[str, ProviderSettings]:
    """``base`` updated with ``given`` (dicts validated into `ProviderSettings`).

    Args:
        registry: when given, every model_type of ``given`` must be one of its providers
            (a misspelt one would be ignored: its limits would never apply).
        source, root: the file and the place of ``given`` in it, for error messages
            (``root`` ``("archon_async", "providers")`` in a search file).

    Raises:
        ConfigError: ``given`` is no mapping, a model_type no provider serves, or an
            invalid setting; names the place (``providers.Together_API.rpm``) and the value
            given.
    """
    if given is not None and not isinstance(given, Mapping):
        raise ConfigError(
            f"{format_location(root)} must be an object keyed by model_type "
            f'({{"Together_API": {{"rpm": 600}}}}), got {type(given).__name__} '
            f"{redacted_urls(given)!r}",
            source=source,
        )
    merged = dict(base or {})
    for model_type, value in (given or {}).items():
        where = (*root, model_type)
        if registry is not None and not registry.has_provider(model_type):
            known = registry.provider_names()
            match = closest(model_type, known)
            hint = f"did you mean {match!r}? " if match else ""
            raise ConfigError(
                f"no provider is registered for model_type {model_type!r}; {hint}known: "
                f"{', '.join(known)}",
                source=source,
                location=format_location(where),
            )
        if not isinstance(value, ProviderSettings | Mapping):
            raise ConfigError(
                "must be an object of settings (rpm, tpm, base_url...), got "
                f"{redacted_urls(value)!r}",
                source=source,
                location=format_location(where),
            )
        current = merged.get(model_type) or ProviderSettings()
        update = (
            value.model_dump(exclude_unset=True)
            if isinstance(value, ProviderSettings)
            else dict(value)
        )
        try:
            merged[model_type] = ProviderSettings.model_validate(
                {**current.model_dump(exclude_unset=True), **update}
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ConfigError(
                f"{first['msg']} (got {redacted_urls(first.get('input'))!r})",
                source=source,
                location=format_location((*where, *map(str, first["loc"]))),
            ) from None
    return merged
