"""A prompts file's lines: each check names its line; the messages checked as the file is
read are not checked again by the prompt's run (`NormalizedMessages`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_async import InvalidInputError
from archon_async._batch_io import iter_jsonl_items, validate_jsonl_input
from archon_async._types import NormalizedMessages, normalize_messages


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('{"id": true, "prompt": "x"}', "'id' must be a non-empty string or an integer"),
        ('{"id": "", "prompt": "x"}', "'id' must be a non-empty string or an integer"),
        ('{"id": 1.5, "prompt": "x"}', "'id' is 1.5, a number with a fraction"),
        # Read by orjson as a float: said so, not "must be an integer" for what was written as one.
        (
            '{"id": 123456789012345678901234567890, "prompt": "x"}',
            "'id' is 1.2345678901234568e\\+29, .* beyond 64 bits: write such an id as a string",
        ),
        ('{"id": "a", "prompt": 3}', "'prompt' must be a string"),
        ('{"id": "a", "prompt": "x", "messages": []}', "give exactly one of"),
        ("[1, 2]", "each line must be a JSON object"),
        ('{"id": "a", "messages": [{"role": "user", "content": 3}]}', "messages\\[0\\]"),
        ("{", "not valid JSON"),
    ],
)
def test_a_bad_line_is_named_by_its_number(tmp_path: Path, line: str, words: str) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "ok", "prompt": "fine"}\n\n' + line + "\n")
    with pytest.raises(InvalidInputError, match=f"in.jsonl, line 3: {words}"):
        validate_jsonl_input(path)
    with pytest.raises(InvalidInputError, match=f"in.jsonl, line 3: {words}"):
        list(iter_jsonl_items(path))


def test_ids_and_extra_fields_are_read_as_written(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"id": 0, "prompt": "zero"}\n'
        '{"id": "00", "prompt": "text zero", "tag": [1], "id2": null}\n'
        '{"id": -7, "messages": [{"role": "user", "content": "m"}]}\n'
    )
    assert validate_jsonl_input(path) == 3
    items = list(iter_jsonl_items(path))
    assert [(item.id, item.raw_id, item.output_id) for item in items] == [
        ("0", 0, 0),
        ("00", "00", "00"),
        ("-7", -7, -7),
    ]
    assert [item.metadata for item in items] == [{}, {"tag": [1], "id2": None}, {}]
    items[0].metadata["x"] = 1  # each item's own dict
    assert items[2].metadata == {}


def test_messages_checked_once_are_returned_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "a", "messages": [{"role": "user", "content": "hi"}]}\n')
    (item,) = iter_jsonl_items(path)
    assert type(item.messages) is NormalizedMessages
    assert item.messages == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "hi"},
    ]
    assert normalize_messages(item.messages) is item.messages  # not checked again
    # An equal plain list (or a copy) is checked and built anew, a bad one refused.
    copied = normalize_messages(list(item.messages))
    assert copied == item.messages and copied is not item.messages
    with pytest.raises(InvalidInputError, match="role"):
        normalize_messages([*item.messages, {"role": "robot", "content": "x"}])
