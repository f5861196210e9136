"""Frozen dataclasses built at about a plain class's cost (the public value types of a call).

A frozen dataclass's generated ``__init__`` sets each field through ``object.__setattr__``
(its own ``__setattr__`` refuses every assignment): a slot-wrapper call per field, so a
15-field `CallRecord` costs about 7x a plain slotted class to build, and one is built for
every provider call (`ChatRequest`, `ChatResponse` and the `Result` too; bench/RESULTS.md,
measure 3's fifth pass). `quick_init` gives such a class an ``__init__`` with the same
signature and defaults that stores the fields through a mutable twin of the class: the
twin has the same slots and no other state, so CPython lets the new instance become the
twin, take its fields by plain slot stores, and become the frozen class again before
``__init__`` returns. The class is otherwise the dataclass's own: equality, hash, repr,
``FrozenInstanceError`` on assignment, `dataclasses.fields`, `replace`, `asdict`, pickling.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

__all__ = ["quick_init"]

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Replace the ``__init__`` of a ``@dataclass(frozen=True, slots=True)`` class by one
    that builds it through a mutable twin (see the module docstring).

    The dataclass's own ``__init__`` stays as the new one's ``__wrapped__``: an instance of
    a subclass (whose layout may differ from the twin's) is built by it.

    Raises:
        TypeError: the class is not a frozen slotted dataclass of plain ``__init__``
            fields (no ``InitVar``, ``init=False``, ``kw_only`` or ``__post_init__``), or
            it has a base class of its own.
    """
    original = cls.__init__
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names = tuple(f.name for f in fields)
    simple = all(f.init and not f.kw_only for f in fields) and (
        original.__code__.co_varnames[1 : len(names) + 1] == names
    )
    if (
        not cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
        or "__slots__" not in cls.__dict__
        or cls.__bases__ != (object,)
        or hasattr(cls, "__post_init__")
        or not simple
    ):
        raise TypeError(f"quick_init needs a plain frozen slotted dataclass, not {cls!r}")
    twin = type(f"_{cls.__name__}Fields", (), {"__slots__": cls.__slots__})  # type: ignore[attr-defined]
    defaults = original.__defaults__ or ()
    first_default = len(fields) - len(defaults)
    namespace: dict[str, Any] = {
        "_cls": cls,
        "_twin": twin,
        "_original": original,
        "_become": object.__setattr__,
    }
    made, stored = [], []
    for position, f in enumerate(fields):
        if f.default_factory is not dataclasses.MISSING:
            # The dataclass's own marker of "not given" is the parameter's default.
            namespace[f"_marker_{f.name}"] = defaults[position - first_default]
            namespace[f"_factory_{f.name}"] = f.default_factory
            made.append(f"    if {f.name} is _marker_{f.name}: {f.name} = _factory_{f.name}()\n")
        stored.append(f"    self.{f.name} = {f.name}\n")
    listed = ", ".join(names)
    source = (
        f"def __init__(self, {listed}):\n"
        "    if type(self) is not _cls:\n"
        f"        return _original(self, {listed})\n"
        + "".join(made)
        + "    _become(self, '__class__', _twin)\n"
        + "".join(stored)
        + "    self.__class__ = _cls\n"
    )
    exec(source, namespace)  # the dataclass module builds its __init__ the same way
    init = namespace["__init__"]
    init.__defaults__ = original.__defaults__
    init.__annotations__ = dict(original.__annotations__)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = original.__doc__
    init.__wrapped__ = original
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
