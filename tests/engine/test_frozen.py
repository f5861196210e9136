"""The public value types built by `quick_init`: the same objects as the dataclass builds."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from typing import Any

import pytest

from archon_async._batch_io import BatchItem
from archon_async._frozen import quick_init
from archon_async._trace import Result, Trace
from archon_async._types import CallRecord, ChatRequest, ChatResponse, Usage

MESSAGES = [{"role": "user", "content": "Name a prime."}]

#: (class, positional arguments, keyword arguments), covering defaults, factories and all.
CASES: list[tuple[type, tuple[Any, ...], dict[str, Any]]] = [
    (CallRecord, ("m", "OpenAI_API", 0.25, 10, 3, 1), {}),
    (
        CallRecord,
        ("m", "OpenAI_API", 0.25, 10, 3, 1, "k1", "E: x", True, 0.5, "stop", 2, True, 4, 5),
        {},
    ),
    (CallRecord, ("m", "p", 0.1), {"input_tokens": 1, "output_tokens": 2, "retries": 0}),
    (ChatRequest, ("m", "OpenAI_API", MESSAGES), {}),
    (ChatRequest, ("m", "OpenAI_API", MESSAGES), {"temperature": 0.7, "extra": {"seed": 1}}),
    (ChatRequest, ("m", "t", MESSAGES, 0.1, 9, "http://h", {"a": 1}, 0.9, ("\n",), 3), {}),
    (ChatResponse, ("hi",), {}),
    (ChatResponse, ("hi", Usage(1, 2), "m", "stop", {"x-ratelimit-remaining-requests": "9"}), {}),
    (Result, ("a", ("a", "b"), Trace()), {}),
    (BatchItem, ("7",), {"messages": MESSAGES, "metadata": {"k": 1}, "raw_id": 7, "draw": 2}),
    (BatchItem, ("7",), {}),
]


def _by_dataclass(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The same object built by the dataclass's own generated ``__init__``."""
    made = object.__new__(cls)
    cls.__init__.__wrapped__(made, *args, **kwargs)  # type: ignore[misc]
    return made


@pytest.mark.parametrize(("cls", "args", "kwargs"), CASES)
def test_builds_what_the_dataclass_builds(
    cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    quick, reference = cls(*args, **kwargs), _by_dataclass(cls, args, kwargs)
    assert type(quick) is cls
    assert quick == reference
    if cls is CallRecord:  # the others hold lists and dicts: unhashable
        assert hash(quick) == hash(reference)
    assert repr(quick) == repr(reference)
    assert dataclasses.asdict(quick) == dataclasses.asdict(reference)
    assert [getattr(quick, f.name) for f in dataclasses.fields(cls)] == [
        getattr(reference, f.name) for f in dataclasses.fields(cls)
    ]
    assert pickle.loads(pickle.dumps(quick)) == quick
    assert copy.deepcopy(quick) == quick
    first = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(quick, first, "changed")
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(quick, first)
    changed = dataclasses.replace(quick, **{first: "other"})
    assert type(changed) is cls and getattr(changed, first) == "other"
    assert not hasattr(quick, "__dict__")


def test_signature_defaults_and_errors_are_the_dataclass_ones() -> None:
    for cls in (CallRecord, ChatRequest, ChatResponse, Result, BatchItem):
        assert inspect.signature(cls) == inspect.signature(cls.__init__.__wrapped__).replace(
            parameters=list(inspect.signature(cls.__init__.__wrapped__).parameters.values())[1:]
        )
    # A default factory gives each instance its own value.
    one, two = ChatRequest("m", "t", MESSAGES), ChatRequest("m", "t", MESSAGES)
    assert one.extra == {} and one.extra is not two.extra
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'messages'"):
        ChatRequest("m", "t")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        CallRecord("m", "p", 0.1, 1, 2, 0, colour="red")  # type: ignore[call-arg]


def test_a_subclass_is_built_by_the_dataclass() -> None:
    class Noted(CallRecord):  # a plain subclass: it has a __dict__ the twin lacks
        pass

    noted = Noted("m", "p", 0.1, 1, 2, 0, error="E: x")
    assert type(noted) is Noted and noted.error == "E: x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        noted.model = "other"  # type: ignore[misc]

    @dataclasses.dataclass(frozen=True)
    class Longer(CallRecord):
        tag: str = ""

    longer = Longer("m", "p", 0.1, 1, 2, 0, tag="t")
    assert (longer.model, longer.tag) == ("m", "t")


def test_refuses_what_it_cannot_build() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class KeywordOnly:
        a: int = dataclasses.field(kw_only=True)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (NoSlots, NotFrozen, KeywordOnly, Checked):
        with pytest.raises(TypeError, match="plain frozen slotted dataclass"):
            quick_init(cls)
