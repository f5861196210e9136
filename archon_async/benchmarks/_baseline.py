"""A pairwise judgement's other side: the baseline's answers, from the files they come in.

Arena-Hard-Auto and AlpacaEval score an answer against a baseline model's answer to the
same question. The baseline's answers are either a batch output of another architecture
or the files the benchmarks publish: arena-hard-auto's ``model_answer/<model>.jsonl`` (in
its current format or in v0.1's) and AlpacaEval's ``model_outputs.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from ._files import read_json, unreadable
from ._types import BenchmarkDataError, BenchmarkItem

__all__ = ["read_baseline"]


def _records(path: Path) -> list[Any]:
    try:
        with path.open("rb") as handle:
            head = handle.read(64).lstrip()
    except OSError as exc:
        raise unreadable(path, exc) from None
    if head.startswith(b"["):
        data = read_json(path)
        return list(data)
    records = []
    for line in path.read_bytes().splitlines():
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue  # a blank line, or a batch output's line cut off by a kill
    return records


def _text(content: Any) -> str | None:
    # A turn is {"content": ...} or a plain string; arena-hard's current format nests the
    # reply as {"answer": ...} inside the assistant message's content.
    if isinstance(content, Mapping):
        content = content.get("content", content.get("answer"))
        if isinstance(content, Mapping):
            content = content.get("answer")
    return content if isinstance(content, str) else None


def _answer(record: Any, by_instruction: Mapping[str, str]) -> tuple[str, str] | None:
    """(question id, answer text) of one record of any of the known shapes, or None."""
    if not isinstance(record, Mapping):
        return None
    if "id" in record and isinstance(record.get("answer"), str):  # a batch output line
        return str(record["id"]), record["answer"]
    if "uid" in record and isinstance(record.get("messages"), list):  # arena-hard, current
        replies = [m for m in record["messages"] if _role(m) == "assistant"]
        text = _text(replies[-1]) if replies else None
        return (str(record["uid"]), text) if text is not None else None
    if "question_id" in record and isinstance(record.get("choices"), list):  # v0.1, FastChat
        choices = record["choices"]
        turns = choices[0].get("turns") if choices and isinstance(choices[0], Mapping) else None
        text = _text(turns[0]) if isinstance(turns, list) and turns else None
        return (str(record["question_id"]), text) if text is not None else None
    instruction, output = record.get("instruction"), record.get("output")
    if isinstance(output, str) and isinstance(instruction, str) and instruction in by_instruction:
        return by_instruction[instruction], output  # AlpacaEval's outputs
    return None


def _role(message: Any) -> Any:
    return message.get("role") if isinstance(message, Mapping) else None


def read_baseline(path: Path, items: Sequence[BenchmarkItem]) -> dict[str, str]:
    """The baseline's answer to each question, by item id.

    Reads a batch output (``id``, ``answer``), arena-hard-auto's ``model_answer`` JSONL in
    its current (``uid``, ``messages``) or v0.1 (``question_id``, ``choices``) format, or
    AlpacaEval's outputs (``instruction``, ``output``; matched to ``items`` by instruction).
    Records of other shapes and error lines are skipped.

    Args:
        path: the baseline's answers.
        items: the benchmark's questions (AlpacaEval records carry no id).

    Raises:
        BenchmarkDataError: the file cannot be read, or no record is an answer.
    """
    by_instruction = {
        str(item.metadata["instruction"]): item.id
        for item in items
        if isinstance(item.metadata.get("instruction"), str)
    }
    answers: dict[str, str] = {}
    for record in _records(path):
        found = _answer(record, by_instruction)
        if found is not None:
            answers[found[0]] = found[1]
    if not answers:
        raise BenchmarkDataError(
            f"{path}: no baseline answers in it; pass a batch output (id, answer), an "
            "arena-hard-auto model_answer JSONL or AlpacaEval's model_outputs.json"
        )
    return answers
