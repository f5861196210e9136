"""Provider settings given as dicts or `ProviderSettings`, merged and validated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._config import ProviderSettings
from .._exceptions import ConfigError

__all__ = ["validated_settings"]


def validated_settings(
    given: Mapping[str, ProviderSettings | Mapping[str, Any]] | None,
    base: Mapping[str, ProviderSettings] | None = None,
) -> dict[str, ProviderSettings]:
    """``base`` updated with ``given`` (dicts validated into `ProviderSettings`).

    Raises:
        ConfigError: a setting is invalid; names the model_type.
    """
    merged = dict(base or {})
    for model_type, value in (given or {}).items():
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
        except ValueError as exc:
            raise ConfigError(
                f"invalid settings: {exc}", location=f"providers[{model_type!r}]"
            ) from None
    return merged
