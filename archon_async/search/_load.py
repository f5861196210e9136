"""Reading a search file: JSON in, a validated `SearchFile` and its models out."""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .._config import ConfigWarning, format_location
from .._config_text import check_config_values, parse_config_bytes
from .._exceptions import ConfigError
from ._models import ModelRef, resolve_model
from ._numbers import number_problem
from ._settings import SearchFile

__all__ = [
    "EXAMPLE_SEARCH_CONFIG",
    "load_search_file",
    "search_file_from_dict",
    "suggestion",
    "validation_error",
]

#: Archon's example search configuration, shipped unmodified (data/NOTICE.md).
EXAMPLE_SEARCH_CONFIG = Path(__file__).resolve().parent / "data" / "example_search_config.json"


def load_search_file(path: str | Path) -> tuple[SearchFile, list[ModelRef]]:
    """Load a search file and the models it names (in the file's order).

    Raises:
        ConfigError: unreadable file, invalid JSON (line and column given), an invalid
            value (its place given), or a model config that cannot be found.
    """
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the search file: {exc.strerror}", source=source) from None
    # As an architecture's file is read: a BOM is fine; bytes that are not UTF-8, deep
    # nesting, a repeated key and NaN are refused naming the place.
    data = parse_config_bytes(raw, source)
    return _validated(data, source=source, base=Path(path).resolve().parent)


def validation_error(
    exc: ValidationError,
    source: str,
    root: type[BaseModel] = SearchFile,
    prefix: tuple[str, ...] = (),
) -> ConfigError:
    """The first problem of ``root``'s validation error as a `ConfigError` naming its place
    (under ``prefix``); an unknown key gets the closest known one as a suggestion."""
    first = exc.errors()[0]
    location = (*prefix, *first["loc"])
    # pydantic prefixes our validators' messages with "Value error, ": not the user's words.
    message = number_problem(first, root) or first["msg"].removeprefix("Value error, ")
    if first["type"] == "literal_error":  # one of named choices: which, and the one meant
        choices = re.findall(r"'([^']*)'", first["ctx"]["expected"])
        given = first["input"]
        message = f"{given!r} is not one of: {', '.join(choices)}" + suggestion(str(given), choices)
    if first["type"] == "extra_forbidden":
        known = _field_names(root, first["loc"][:-1])
        close = difflib.get_close_matches(str(location[-1]), known, n=1)
        message = f"unknown key {location[-1]!r}" + (
            f"; did you mean {close[0]!r}?" if close else f" (known keys: {', '.join(known)})"
        )
    more = len(exc.errors()) - 1
    return ConfigError(
        message + (f" (and {more} more problem(s))" if more else ""),
        source=source,
        location=format_location(location) or None,
    )


def suggestion(word: str, choices: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` for the choice ``word`` was meant as (one it begins,
    else the closest spelling), or "" when none is close."""
    begun = [choice for choice in choices if word and choice.startswith(word.lower())]
    close = begun or difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _field_names(root: type[BaseModel], path: tuple[int | str, ...]) -> list[str]:
    """The field names of the model found at ``path`` under ``root``."""
    model = root
    for part in path:
        field = model.model_fields.get(str(part))
        if field is None or not (
            isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        ):
            break
        model = field.annotation
    return list(model.model_fields)


def search_file_from_dict(
    data: Any, *, source: str = "<dict>", base: Path | None = None
) -> tuple[SearchFile, list[ModelRef]]:
    """Validate a search configuration given as a dict; models are looked up from ``base``.

    Where JSON has an array, Python callers may give any sequence that is not a string (a
    tuple, a range): ``"model_top_k_choices": (1, 2)`` reads as ``[1, 2]``. A search file
    is JSON, whose arrays are lists, so `load_search_file` is as strict as before.

    Raises:
        ConfigError: as `load_search_file`.
    """
    check_config_values(data, source)
    return _validated(_lists(data), source=source, base=base)


def _lists(value: Any) -> Any:
    """``value`` with every sequence in it that is not a string made a list (dicts walked)."""
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray):
        return [_lists(item) for item in value]
    return value


def _validated(data: Any, *, source: str, base: Path | None) -> tuple[SearchFile, list[ModelRef]]:
    """`search_file_from_dict` for ``data`` as given (JSON's types: a list for an array)."""
    if not isinstance(data, dict):
        raise ConfigError("a search file must be a JSON object", source=source)
    for key in data:
        if key not in SearchFile.model_fields:
            # Archon's format is not ours to police: an unknown key is ignored, and said.
            close = difflib.get_close_matches(key, list(SearchFile.model_fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            warnings.warn(
                ConfigWarning(f"{source}: unknown search key {key!r} is ignored{hint}"),
                stacklevel=3,
            )
    base = base or Path.cwd()
    try:
        # Strict, as our section is: "1", true or 1.5 where Archon's code takes a whole
        # number is refused, never read as 1.
        settings = SearchFile.model_validate(data, strict=True)
    except ValidationError as exc:
        problem = validation_error(exc, source)
        raise _with_missing_models(problem, data.get("models_available"), base, source) from None
    entries = settings.models_available
    models = [_resolved(entry, base, source, i) for i, entry in enumerate(entries)]
    names = [m.model for m in models]
    if len(set(names)) != len(names):
        raise ConfigError("models_available names a model twice", source=source)
    return settings, models


def _resolved(entry: str | dict[str, Any], base: Path, source: str, index: int) -> ModelRef:
    return resolve_model(entry, base=base, where=f"{source}: models_available[{index}]")


def _with_missing_models(
    problem: ConfigError, entries: Any, base: Path, source: str
) -> ConfigError:
    """``problem`` (the file's settings' first), after the models of ``entries`` that
    cannot be found, if any: a missing model file is said first, not hidden behind a
    problem it may cause (too large a ``model_top_k`` for the models there are)."""
    missing: list[ConfigError] = []
    if isinstance(entries, list):
        for index, entry in enumerate(entries):
            if isinstance(entry, str | dict):
                try:
                    _resolved(entry, base, source, index)
                except ConfigError as exc:
                    missing.append(exc)
    if not missing:
        return problem
    errors = [*missing, problem]
    lines = [str(error).removeprefix(f"{source}: ").removeprefix(f"{source}, ") for error in errors]
    combined = ConfigError(f"{len(lines)} problems:\n  " + "\n  ".join(lines), source=source)
    combined.problems = tuple(errors)
    return combined
