"""Answer lines: written as prompts end, flushed together at the next loop turn."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import orjson

from archon_async._batch_io import AnswerWriter


def lines_of(path: Path) -> list[object]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def test_the_lines_of_a_turn_are_flushed_together_by_the_next_turn(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    with AnswerWriter(out) as writer:
        writer.write({"id": "a"})
        writer.write({"id": "b"})
        assert out.read_bytes() == b""  # held for the other lines of this turn
        await asyncio.sleep(0)  # the next turn
        assert lines_of(out) == [{"id": "a"}, {"id": "b"}]
        writer.write({"id": "c"})
        writer.flush()  # at once, when asked (before a line is handed to a consumer)
        assert lines_of(out) == [{"id": "a"}, {"id": "b"}, {"id": "c"}]
        writer.write({"id": "d"})
    assert lines_of(out)[-1] == {"id": "d"}  # closing flushes the rest
    await asyncio.sleep(0)  # the turn's flush, cancelled with the file closed: no error


async def test_a_stream_gets_its_lines_by_the_next_turn_and_at_the_end() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8")  # buffered: only a flush reaches raw
    with AnswerWriter(stream) as writer:
        writer.write({"id": 1})
        assert raw.getvalue() == b""
        await asyncio.sleep(0)
        assert raw.getvalue() == b'{"id":1}\n'
        writer.write({"id": 2})
    assert raw.getvalue() == b'{"id":1}\n{"id":2}\n'
    assert not stream.closed  # standard output is not ours to close
