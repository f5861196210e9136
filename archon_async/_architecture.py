"""`Architecture`: a validated Archon configuration, loaded from a file or a dict."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from ._config import (
    ComponentSpec,
    ConfigWarning,
    ProviderSettings,
    format_location,
    unknown_key_messages,
    validate_component,
)
from ._config_sanity import sanity_notes
from ._config_text import check_config_values, parse_config_bytes
from ._exceptions import ConfigError
from ._redact import redacted_urls
from ._registry import Registry
from ._request_notes import request_notes
from ._shipped import find_shipped, resolve_config_path, shipped_config_names
from ._words import closest

__all__ = ["Architecture", "is_reward_model"]

_TOP_LEVEL_KEYS = ("name", "layers", "providers", "custom")
_LEGACY_LAYER_KEYS = ("models", "branches")
# Built-in components that read the candidates of an earlier layer.
_NEEDS_CANDIDATES = {"fuser", "ranker", "critic", "verifier", "unit_test_evaluator"}
_BUILTIN_TYPES = _NEEDS_CANDIDATES | {"generator", "unit_test_generator"}


def is_reward_model(spec: ComponentSpec) -> bool:
    """Whether a ranker is a reward model (PairRM) scored by a backend, not an LLM prompt."""
    return spec.type == "ranker" and "pairrm" in spec.model.lower()


class Architecture:
    """A validated architecture: layers of components, and optional provider settings.

    Build one with `Architecture.from_file` or `Architecture.from_dict`; every problem is a
    `ConfigError` raised there, before any provider call.

    Attributes:
        name: the config's name.
        layers: the components of each layer, in order.
        providers: our optional per-model_type settings (base_url, rpm, tpm, ...).
        source: the file the config came from, or ``"<dict>"``.
        warnings: what was ignored (unknown keys, with suggestions).
        registry: the registry the config was checked against.
    """

    __slots__ = ("layers", "name", "providers", "registry", "source", "warnings")

    def __init__(
        self,
        *,
        name: str,
        layers: Sequence[Sequence[ComponentSpec]],
        providers: Mapping[str, ProviderSettings],
        source: str,
        warnings: Sequence[str],
        registry: Registry,
    ) -> None:
        self.name = name
        self.layers = tuple(tuple(layer) for layer in layers)
        self.providers = dict(providers)
        self.source = source
        self.warnings = tuple(warnings)
        self.registry = registry

    def __repr__(self) -> str:
        shape = "-".join(str(len(layer)) for layer in self.layers)
        return f"Architecture(name={self.name!r}, layers={shape}, source={self.source!r})"

    @property
    def depth(self) -> int:
        """The number of layers: the length of the critical path in call latencies."""
        return len(self.layers)

    def fingerprint(self) -> str:
        """A short digest of the layers: two architectures that answer alike share it (the
        name and the providers section, which do not change answers, are left out)."""
        layers = orjson.dumps(self.to_dict()["layers"], option=orjson.OPT_SORT_KEYS)
        return hashlib.blake2b(layers, digest_size=6).hexdigest()

    def model_types(self) -> set[str]:
        """The model_types this architecture calls."""
        return {spec.model_type for layer in self.layers for spec in layer if spec.model_type}

    @classmethod
    def from_file(cls, path: str | Path, *, registry: Registry | None = None) -> Architecture:
        """Load and validate a JSON architecture file, or a shipped one by name.

        A path that does not exist is looked up among the configurations shipped with the
        package (see `from_name`): ``"default"``, ``"configs/default.json"`` and
        ``"archon/MoA-lite"`` load from a clone and from an installed wheel alike.

        Raises:
            ConfigError: the file is missing, is not UTF-8 or not valid JSON (line and
                column given), nests too deeply, repeats a key in an object or holds
                ``NaN``/``Infinity`` (the key path given), or the configuration is invalid
                (the place is given).
        """
        resolved = resolve_config_path(path)
        source = str(resolved)
        try:
            data = resolved.read_bytes()
        except OSError as exc:
            hint = ""
            if not resolved.exists():
                ours = ", ".join(name for name in shipped_config_names() if "/" not in name)
                hint = f"; shipped configurations: {ours}, and archon/NAME (Archon's published)"
            raise ConfigError(
                f"cannot read the config file: {exc.strerror}{hint}", source=source
            ) from None
        return cls.from_dict(parse_config_bytes(data, source), registry=registry, source=source)

    @classmethod
    def from_name(cls, name: str, *, registry: Registry | None = None) -> Architecture:
        """Load a configuration shipped with the package by its name.

        Names are file names without ``.json``: ours (``default``, ``single_model``,
        ``moa_two_layers``, ...) and those published with Archon (``archon/MoA-lite``, ...);
        `names` lists them.

        Raises:
            ConfigError: no shipped configuration has that name (the names are listed).
        """
        path = find_shipped(name)
        if path is None:
            ours = ", ".join(n for n in shipped_config_names() if "/" not in n)
            raise ConfigError(
                f"no shipped configuration is named {name!r}; ours: {ours}; Archon's: "
                "archon/NAME (Architecture.names('archon') lists them)"
            )
        return cls.from_file(path, registry=registry)

    @staticmethod
    def names(folder: str = "") -> list[str]:
        """The names `from_name` accepts, e.g. ``["archon/MoA-lite", ..., "default", ...]``.

        Args:
            folder: only those of one folder (``"archon"`` for Archon's published ones).
        """
        return shipped_config_names(folder)

    @classmethod
    def from_dict(
        cls, data: Any, *, registry: Registry | None = None, source: str = "<dict>"
    ) -> Architecture:
        """Validate an architecture given as a dict (Archon's JSON format).

        Raises:
            ConfigError: the configuration is invalid; the message names the place.
        """
        registry = registry or Registry.default()
        check_config_values(data, source)
        if not isinstance(data, Mapping):
            raise ConfigError(
                "the config must be a JSON object with a 'layers' list", source=source
            )
        notes = _top_level_warnings(data, source)
        raw_layers = data.get("layers")
        if not isinstance(raw_layers, list) or not raw_layers:
            missing = (
                "'layers' is missing"
                if raw_layers is None
                else "'layers' is empty"
                if isinstance(raw_layers, list)
                else "'layers' is not a list"
            )
            hints = "".join(f"; {note.split(': ', 1)[1]}" for note in notes)
            raise ConfigError(
                f"{missing}: it must be a non-empty list of layers{hints}",
                source=source,
                location="layers",
            )
        # Every problem of the file is found and said at once, not only the first.
        problems = _Problems()
        layers: list[list[ComponentSpec]] = []
        for index, raw_layer in enumerate(raw_layers):
            with problems.collect():
                layers.append(_layer_specs(raw_layer, index, source, notes, problems))
        _check_layers(layers, registry, source, notes, problems)
        name = data.get("name", "")
        if not isinstance(name, str):
            problems.add(ConfigError("'name' must be a string", source=source, location="name"))
        providers: dict[str, ProviderSettings] = {}
        with problems.collect():
            providers = _provider_settings(data.get("providers"), registry, source)
        problems.raise_any(source)
        notes.extend(request_notes(layers, providers, registry, source))
        notes.extend(sanity_notes(layers, providers, source))
        for note in notes:
            warnings.warn(ConfigWarning(note), stacklevel=3)
        return cls(
            name=name or Path(source).stem,
            layers=layers,
            providers=providers,
            source=source,
            warnings=notes,
            registry=registry,
        )

    def with_overrides(
        self,
        *,
        model: str | None = None,
        model_type: str | None = None,
        base_url: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Architecture:
        """This architecture with every model-calling component pointed at one model.

        ``arch.with_overrides(base_url="http://127.0.0.1:8080/v1", model="qwen2.5")`` runs
        any architecture on one local OpenAI-compatible server (llama.cpp, Ollama, vLLM):
        a base URL alone means model_type ``OpenAI_Compatible``, which needs no key. Only the
        values given change; custom components that call no model are left alone.

        Args:
            model: the model every component asks for (PairRM rankers become LLM rankers).
            model_type: the provider serving it (default with ``base_url``:
                ``OpenAI_Compatible``; e.g. ``OpenAI_API`` for one OpenAI key).
            base_url: the endpoint, set as that model_type's base URL.
            max_tokens: the output limit of every call.
            temperature: the sampling temperature of every call.

        Raises:
            ConfigError: a value is invalid, or the result is not a valid architecture.
        """
        from ._overrides import override_architecture

        return override_architecture(
            self,
            model=model,
            model_type=model_type,
            base_url=base_url,
            max_tokens=max_tokens,
            temperature=temperature,
        )

    def to_dict(self) -> dict[str, Any]:
        """The architecture in Archon's list-of-layers form (plus our providers section)."""
        result: dict[str, Any] = {
            "name": self.name,
            "layers": [
                [spec.model_dump(mode="json", exclude_unset=True) for spec in layer]
                for layer in self.layers
            ],
        }
        if self.providers:
            result["providers"] = {
                model_type: settings.model_dump(mode="json", exclude_unset=True)
                for model_type, settings in self.providers.items()
            }
        return result


def _top_level_warnings(data: Mapping[str, Any], source: str) -> list[str]:
    return _unknown_keys(data, _TOP_LEVEL_KEYS, "", source, "top-level key")


def _unknown_keys(
    data: Mapping[str, Any], known: Sequence[str], place: str, source: str, what: str
) -> list[str]:
    """Warnings for keys not in ``known``, each with a did-you-mean suggestion if one fits."""
    notes = []
    for key in data:
        if key not in known:
            match = closest(str(key), known, cutoff=0.75)
            hint = f"; did you mean {match!r}?" if match else ""
            where = f"{place}.{key}" if place else str(key)
            notes.append(f"{source}, {where}: unknown {what} {key!r} is ignored{hint}")
    return notes


class _Problems:
    """The configuration errors found so far in one file."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []

    def add(self, error: ConfigError) -> None:
        self.errors.append(error)

    @contextmanager
    def collect(self) -> Iterator[None]:
        """Keep a ConfigError raised in the block and go on with the next check."""
        try:
            yield
        except ConfigError as exc:
            self.errors.append(exc)

    def raise_any(self, source: str) -> None:
        """Raise the one error found, or one listing them all (``.problems``).

        Raises:
            ConfigError: any problem was found.
        """
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            lines = [str(error).removeprefix(f"{source}, ") for error in self.errors]
            combined = ConfigError(
                f"{len(lines)} problems:\n  " + "\n  ".join(lines), source=source
            )
            combined.problems = tuple(self.errors)
            raise combined


def _layer_specs(
    raw_layer: Any, index: int, source: str, notes: list[str], problems: _Problems
) -> list[ComponentSpec]:
    """The components of one layer, from any of Archon's three layer forms."""
    where: tuple[int | str, ...] = ("layers", index)
    if isinstance(raw_layer, Mapping) and "models" in raw_layer:
        # Legacy form {"models": [...], "branches": n}; Archon reads only "models".
        notes.extend(
            _unknown_keys(raw_layer, _LEGACY_LAYER_KEYS, format_location(where), source, "key")
        )
        raw_components = raw_layer["models"]
        branches = raw_layer.get("branches", 1)
        if branches != 1:
            notes.append(
                f"{source}, {format_location((*where, 'branches'))}: 'branches' is ignored, "
                "as in Archon; list a component several times (or use samples) to repeat it"
            )
        where = (*where, "models")
    elif isinstance(raw_layer, Mapping):
        raw_components = [raw_layer]  # a layer written as a single component object
    else:
        raw_components = raw_layer
    if not isinstance(raw_components, list) or not raw_components:
        raise ConfigError(
            "a layer must be a non-empty list of components",
            source=source,
            location=format_location(where),
        )
    specs = []
    for position, raw in enumerate(raw_components):
        with problems.collect():
            spec = validate_component(raw, (*where, position), source)
            if spec.type in _BUILTIN_TYPES:  # a custom component reads its own keys
                notes.extend(unknown_key_messages(spec, (*where, position), source))
            specs.append(spec)
    return specs


def _check_layers(
    layers: list[list[ComponentSpec]],
    registry: Registry,
    source: str,
    notes: list[str],
    problems: _Problems,
) -> None:
    """Check names against the registry and the order of layers; build each component once
    so that it can reject its own settings."""
    seen_types: set[str] = set()
    for index, layer in enumerate(layers):
        for position, spec in enumerate(layer):
            with problems.collect():
                where = ("layers", index, position)
                _check_component(spec, where, seen_types, registry, source, notes)
        seen_types.update(spec.type for spec in layer)


def _check_component(
    spec: ComponentSpec,
    where: tuple[str, int, int],
    seen_types: set[str],
    registry: Registry,
    source: str,
    notes: list[str],
) -> None:
    first_layer = where[1] == 0
    _check_names(spec, registry, source, where)
    if first_layer and spec.type == "fuser":
        notes.append(
            f"{source}, {format_location(where)}: a fuser in the first layer has no "
            "candidates to fuse; it answers the query directly"
        )
    elif first_layer and spec.type in _NEEDS_CANDIDATES:
        raise ConfigError(
            f"a {spec.type} needs candidates from an earlier layer; "
            "start the architecture with a generator layer",
            source=source,
            location=format_location((*where, "type")),
        )
    if spec.type == "unit_test_evaluator" and not (
        "unit_test_generator" in seen_types or seen_types - _BUILTIN_TYPES
    ):
        raise ConfigError(
            "a unit_test_evaluator needs unit tests: put a unit_test_generator in an earlier layer",
            source=source,
            location=format_location((*where, "type")),
        )
    try:
        registry.build_component(spec)
    except ConfigError as exc:
        raise ConfigError(str(exc), source=source, location=format_location(where)) from None


def _check_names(
    spec: ComponentSpec, registry: Registry, source: str, where: tuple[int | str, ...]
) -> None:
    if not registry.has_component(spec.type):
        match = closest(spec.type, registry.component_names())
        hint = f"did you mean {match!r}? " if match else ""
        raise ConfigError(
            f"unknown component type {spec.type!r}; {hint}known types: "
            f"{', '.join(registry.component_names())} (register custom ones with add_component)",
            source=source,
            location=format_location((*where, "type")),
        )
    if is_reward_model(spec) and not spec.model_type:
        return  # scored by a backend, checked by the engine
    calls_llm = spec.type in _BUILTIN_TYPES or spec.model_type
    if calls_llm and not spec.model:
        raise ConfigError(
            f"'model' is missing: say which model the {spec.type} calls",
            source=source,
            location=format_location((*where, "model")),
        )
    if calls_llm and not spec.model_type:
        raise ConfigError(
            f"'model_type' is missing: say which provider serves {spec.model!r} "
            f"(one of {', '.join(registry.provider_names())})",
            source=source,
            location=format_location((*where, "model_type")),
        )
    if calls_llm and not registry.has_provider(spec.model_type):
        match = closest(spec.model_type, registry.provider_names())
        hint = f"did you mean {match!r}? " if match else ""
        raise ConfigError(
            f"no provider is registered for model_type {spec.model_type!r}; {hint}known: "
            f"{', '.join(registry.provider_names())} (register one with add_generator)",
            source=source,
            location=format_location((*where, "model_type")),
        )


def _provider_settings(raw: Any, registry: Registry, source: str) -> dict[str, ProviderSettings]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(
            "'providers' must map model_type names to settings", source=source, location="providers"
        )
    result = {}
    for model_type, settings in raw.items():
        where = ("providers", model_type)
        if not registry.has_provider(model_type):
            raise ConfigError(
                f"no provider is registered for model_type {model_type!r}",
                source=source,
                location=format_location(where),
            )
        try:
            result[model_type] = ProviderSettings.model_validate(settings)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = format_location((*where, *first["loc"]))
            raise ConfigError(
                f"{first['msg']} (got {redacted_urls(first.get('input'))!r})",
                source=source,
                location=loc,
            ) from None
    return result
