"""Reading a configuration file's bytes into JSON values, refusing what JSON tools disagree on.

Python's `json` takes a file's last duplicate key silently, reads ``NaN`` and ``Infinity``
(which RFC 8259 does not allow), and raises `RecursionError` on deep nesting; a file that
is not UTF-8 raises `UnicodeDecodeError`. Each of these is a `ConfigError` here, naming the
file and the place (the line, or the key path such as ``providers.OpenAI_API.timeout_s``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from ._config import format_location
from ._exceptions import ConfigError

__all__ = ["MAX_CONFIG_DEPTH", "check_config_values", "parse_config_bytes"]

#: How deeply a configuration may nest. Archon's configs nest 5 levels (a legacy layer's
#: component's ranker_config); this leaves room for any plausible custom setting.
MAX_CONFIG_DEPTH = 64
#: Whole numbers a configuration may hold lie in [-_INT64, _INT64): JSON writers' 64 bits.
_INT64 = 2**63


class _NonFinite(float):
    """``NaN``/``Infinity`` as the file spelt it, found and reported after parsing."""

    spelling: str

    def __new__(cls, spelling: str) -> _NonFinite:
        value = super().__new__(cls, spelling.replace("Infinity", "inf"))
        value.spelling = spelling
        return value


class _Duplicates(dict[str, Any]):
    """A JSON object that repeated a key (the keys are kept, the last value wins)."""

    repeated: list[str]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    repeated = []
    for key, value in pairs:
        if key in result:
            repeated.append(key)
        result[key] = value
    if not repeated:
        return result
    marked = _Duplicates(result)
    marked.repeated = repeated
    return marked


def parse_config_bytes(data: bytes, source: str) -> Any:
    """The JSON value of a configuration file's bytes (UTF-8, a leading BOM allowed).

    Raises:
        ConfigError: the bytes are not UTF-8 (the line and column of the first bad byte),
            not JSON (line and column), nested deeper than `MAX_CONFIG_DEPTH`, or hold a
            duplicate key or a ``NaN``/``Infinity`` (the key path).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot start or "
            "continue a character): save it as UTF-8",
            source=source,
            location=f"line {line}, column {column}",
        ) from None
    try:
        value = json.loads(text, object_pairs_hook=_object, parse_constant=_NonFinite)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"invalid JSON: {exc.msg}",
            source=source,
            location=f"line {exc.lineno}, column {exc.colno}",
        ) from None
    except RecursionError:
        raise ConfigError(
            f"the JSON nests far deeper than a configuration can (at most {MAX_CONFIG_DEPTH} "
            "levels of objects and lists)",
            source=source,
        ) from None
    check_config_values(value, source)
    return value


def check_config_values(value: Any, source: str) -> None:
    """Check a configuration's values wherever they nest, without recursion.

    Raises:
        ConfigError: nesting deeper than `MAX_CONFIG_DEPTH`, a key repeated in one object,
            a number that is not finite (``NaN``, ``Infinity``), or a whole number beyond
            64 bits (no setting holds one, and the JSON written of it would fail); the key
            path is named.
    """
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if len(path) > MAX_CONFIG_DEPTH:
            raise ConfigError(
                f"the configuration nests more than {MAX_CONFIG_DEPTH} levels deep here",
                source=source,
                location=f"{format_location(path[:6])}... ({len(path)} levels)",
            )
        if isinstance(item, _Duplicates):
            raise ConfigError(
                f"the key {item.repeated[0]!r} appears more than once in this object (JSON "
                "readers disagree on which value counts): keep one",
                source=source,
                location=format_location(path) or "the top level",
            )
        if isinstance(item, float) and not math.isfinite(item):
            spelling = getattr(item, "spelling", repr(item))
            raise ConfigError(
                f"{spelling} is not a number a configuration can hold: give a finite number",
                source=source,
                location=format_location(path) or None,
            )
        if isinstance(item, int) and not -_INT64 <= item < _INT64:
            raise ConfigError(
                f"{item} is beyond any setting (whole numbers here are 64-bit: at most "
                f"{_INT64 - 1:,}): give the number meant",
                source=source,
                location=format_location(path) or None,
            )
        if isinstance(item, Mapping):
            stack.extend((child, (*path, str(key))) for key, child in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((child, (*path, index)) for index, child in enumerate(item))
