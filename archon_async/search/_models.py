"""The models a search may use, read from Archon's single-model configuration files.

Archon's search files name models by path (``configs/individual_models/gpt-4o-mini.json``),
relative to where Archon runs. A path is looked up next to the search file, then in the
current directory, then among the single-model configs Archon publishes, which ship with
this package (``configs/archon/individual_models``, Apache-2.0, see its NOTICE.md). A model
may also be given inline: ``{"name": ..., "model": ..., "model_type": ...}``. A model's own
``base_url`` (a server of the user's) is kept: every architecture calls it there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._architecture import Architecture
from .._exceptions import ConfigError

__all__ = ["SHIPPED_MODELS", "ModelRef", "check_endpoints", "resolve_model"]

#: Archon's published single-model configurations, shipped with the package.
SHIPPED_MODELS = Path(__file__).resolve().parent.parent / "configs" / "archon" / "individual_models"


@dataclass(frozen=True, slots=True)
class ModelRef:
    """One model of a search.

    Attributes:
        name: the config's name (Archon names a model by its config).
        model: the provider's model id.
        model_type: the provider key (``OpenAI_API``, ``Together_API``...).
        source: where it was read from.
        base_url: the model's own endpoint, where its config names one (else the
            provider's: the search file's ``providers``, the environment, the default).
    """

    name: str
    model: str
    model_type: str
    source: str
    base_url: str | None = None

    def component(self, kind: str = "generator", **settings: Any) -> dict[str, Any]:
        """A component of ``kind`` calling this model (at its own base URL, if any)."""
        where = {"base_url": self.base_url} if self.base_url else {}
        return {
            "type": kind,
            "model": self.model,
            "model_type": self.model_type,
            **where,
            **settings,
        }


def resolve_model(entry: str | dict[str, Any], *, base: Path, where: str) -> ModelRef:
    """The model an entry of ``models_available`` (or the judge/baseline) names.

    Raises:
        ConfigError: no such file, or the file is not a single-generator config.
    """
    if isinstance(entry, dict):
        spec = {"type": "generator", **entry}
        data: dict[str, Any] = {"name": entry.get("name", entry.get("model")), "layers": [[spec]]}
        spec.pop("name", None)
        architecture = Architecture.from_dict(data, source=where)
        return _ref(architecture, where)
    path = _find(entry, base)
    if path is None:
        raise ConfigError(
            f"no model config {entry!r}: looked next to the search file ({base}), in the "
            f"current directory and among Archon's published models ({SHIPPED_MODELS}); "
            "give a path to a single-model Archon config or an object with model and model_type",
            source=where,
        )
    return _ref(Architecture.from_file(path), where)


def _find(entry: str, base: Path) -> Path | None:
    given = Path(entry).expanduser()
    for path in (base / given, given, SHIPPED_MODELS / given.name):
        if path.is_file():
            return path
    if given.suffix != ".json":
        shipped = SHIPPED_MODELS / f"{given.name}.json"
        if shipped.is_file():
            return shipped
    return None


def _ref(architecture: Architecture, where: str) -> ModelRef:
    first = architecture.layers[0][0]
    if (
        len(architecture.layers) != 1
        or len(architecture.layers[0]) != 1
        or (first.type != "generator")
    ):
        raise ConfigError(
            f"{architecture.source} is not a single-model config (one layer, one generator)",
            source=where,
        )
    return ModelRef(
        name=architecture.name,
        model=first.model,
        model_type=first.model_type,
        source=architecture.source,
        base_url=first.base_url,
    )


def check_endpoints(
    models: Sequence[tuple[str, ModelRef]], providers: Mapping[str, Any], source: str
) -> None:
    """Every model's provider knows where to call (`archon_async._endpoints`), said in
    the search file's terms before any call: ``models`` are (place, model) pairs such as
    ``("models_available[0]", ref)``, ``providers`` the file's ``archon_async.providers``.

    Raises:
        ConfigError: naming the search file, the model's place and what to set.
    """
    from .._config import ComponentSpec
    from .._endpoints import check_base_urls
    from .._registry import Registry
    from ..callpath._settings import validated_settings

    settings = validated_settings(providers)
    registry = Registry.default()
    for place, ref in models:
        spec = ComponentSpec.model_validate(ref.component())
        try:
            check_base_urls([[spec]], settings, registry, "")
        except ConfigError as exc:
            said = str(exc).removeprefix(f"{exc.location}: ")
            raise ConfigError(said, source=source, location=place) from None
