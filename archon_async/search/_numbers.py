"""One way to say a wrong number: a search file's numeric keys (Archon's and our section's)
and `Search`'s numeric arguments are validated strictly (``"1"``, ``true`` or ``1.5`` where
a whole number is meant are refused, never read as 1), and a refusal says what the key
takes (a whole number or a number, and its range) and what it was given.
"""

from __future__ import annotations

import json
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

__all__ = ["number_problem"]

#: pydantic's error types for a value of the wrong type, and what was expected instead.
_KINDS = {"int_type": "a whole number", "float_type": "a number"}
#: pydantic's error types for a number out of range.
_RANGES = ("greater_than_equal", "greater_than", "less_than_equal", "less_than")


def number_problem(
    error: ErrorDetails, root: type[BaseModel], *, python: bool = False
) -> str | None:
    """What is wrong with the number of ``error`` (one of ``root``'s validation errors) in
    words, e.g. ``must be a whole number of at least 1, not "1" (a string...)``; None when
    the error is not about a number. ``python``: said of a Python argument (the caller
    shows the value), not of a JSON file."""
    if error["type"] not in _KINDS and error["type"] not in _RANGES:
        return None
    annotation, metadata = _field(root, error["loc"])
    kind = _KINDS.get(error["type"]) or _KINDS.get(f"{getattr(annotation, '__name__', '')}_type")
    bounds = _bounds(metadata)
    wanted = bounds or "a number"
    if kind:  # "a whole number of at least 1", "a number above 0"
        wanted = f"{kind} of {bounds}" if bounds.startswith("at ") else f"{kind} {bounds}"
    if python:  # the caller shows the value; a bool is an int to Python, not to us
        return f"must be {wanted.strip()}" + (
            ", not a bool" if isinstance(error["input"], bool) else ""
        )
    return f"must be {wanted.strip()}, not {_shown(error['input'])}"


def _shown(value: Any) -> str:
    """A value as the search file writes it, and why it is no number where that is not plain."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    if isinstance(value, bool):
        return f"{text} (true and false are not numbers here)"
    if isinstance(value, str):
        return f"{text} (a string: write the number without quotes)"
    if isinstance(value, float) and value.is_integer():
        return f"{text} (write a whole number without a decimal point)"
    return text


def _field(root: type[BaseModel], location: tuple[int | str, ...]) -> tuple[Any, list[Any]]:
    """The type of the field (or list item) at ``location`` under ``root``, ``X`` of
    ``X | None``, and its constraints; (None, []) when it cannot be found."""
    model: type[BaseModel] | None = root
    annotation: Any = None
    metadata: list[Any] = []
    for part in location:
        if isinstance(part, int):  # an item of a list: its own annotation's bounds
            item = get_args(annotation)
            annotation = item[0] if item else None
            metadata = []
            if get_origin(annotation) is Annotated:
                annotation, *infos = get_args(annotation)
                metadata = [m for info in infos for m in getattr(info, "metadata", [info])]
            continue
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return None, []
        annotation, metadata = _without_none(field.annotation), list(field.metadata)
        model = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
    return annotation, metadata


def _bounds(metadata: list[Any]) -> str:
    """The range ``metadata`` allows in words ("at least 1 and at most 256"), or ""."""
    words = []
    for bound in metadata:
        # annotated_types' Ge(ge=1), Gt(gt=0), Le, Lt: what pydantic's Field(ge=...) makes.
        for attr, text in (("ge", "at least"), ("gt", "above"), ("le", "at most"), ("lt", "below")):
            if getattr(bound, attr, None) is not None:
                words.append(f"{text} {getattr(bound, attr)}")
    return " and ".join(words)


def _without_none(annotation: Any) -> Any:
    """``X`` of ``X | None``; anything else as it is."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    return annotation
