"""Answers written in the formats the official evaluators read.

The input is the batch runner's output: one record per prompt with ``id`` and ``answer``
(and ``turns`` for multi-turn items); error records are skipped.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from .._logging import get_logger
from ._code import extract_code, humaneval_completion
from ._formats import ARENA_HARD_FORMATS
from ._registry import Benchmark
from ._scoring import score
from ._tokens import count_tokens
from ._types import BenchmarkDataError, BenchmarkItem

__all__ = [
    "ARENA_HARD_FORMATS",
    "arena_hard_metadata",
    "mixeval_model_name",
    "read_answers",
    "write_official",
]

log = get_logger(__name__)


def read_answers(path: Path) -> dict[str, dict[str, Any]]:
    """The answer records of a batch output file by id (error lines skipped, last wins)."""
    answers: dict[str, dict[str, Any]] = {}
    with path.open("rb") as handle:
        for line in handle:
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line cut off by a kill
            if isinstance(record, dict) and "answer" in record and "id" in record:
                answers[str(record["id"])] = record
    return answers


def _answer_id() -> str:
    return uuid.uuid4().hex[:22]


def _mt_bench(item: BenchmarkItem, record: Mapping[str, Any], model: str) -> dict[str, Any]:
    turns = record.get("turns")
    if not isinstance(turns, list) or len(turns) != len(item.turns):
        raise BenchmarkDataError(f"MT-Bench {item.id}: the answer needs one reply per turn")
    return {
        "question_id": item.metadata["question_id"],
        "answer_id": _answer_id(),
        "model_id": model,
        "choices": [{"index": 0, "turns": [str(turn) for turn in turns]}],
        "tstamp": time.time(),
    }


def _markdown_counts(answer: str) -> dict[str, dict[str, int]]:
    """The style features arena-hard's style control reads (``add_markdown_info.py``):
    headers, list items and bold spans, counted after code blocks are removed."""
    text = re.sub(r"```[^`]*```", "", answer)
    headers = {f"h{n}": len(re.findall(rf"^#{{{n}}}\s", text, re.MULTILINE)) for n in range(1, 7)}
    return {
        "header_count": headers,
        "list_count": {
            "ordered": len(re.findall(r"^\s*\d+\.\s", text, re.MULTILINE)),
            "unordered": len(re.findall(r"^\s*[-*+]\s", text, re.MULTILINE)),
        },
        "bold_count": {
            "**": len(re.findall(r"\*\*[^*\n]+\*\*", text)),
            "__": len(re.findall(r"__[^_\n]+__", text)),
        },
    }


def arena_hard_metadata(answer: str, *, legacy: bool = False) -> dict[str, Any]:
    """The answer's ``metadata`` (``conv_metadata`` in v0.1) as arena-hard's style control
    reads it: ``token_len``, then the header, list and bold counts, in that order (the
    current ``show_result.py`` reads the values by position, so nothing else is added).

    ``token_len`` counts ``o200k_base`` tokens (``cl100k_base`` with ``legacy``), as
    arena-hard-auto does, when ``bpe-openai`` is installed; otherwise it is estimated (see
    `describe_token_counts`).
    """
    tokens, _ = count_tokens(answer, "cl100k_base" if legacy else "o200k_base")
    return {"token_len": tokens, **_markdown_counts(answer)}


def _arena_hard(
    item: BenchmarkItem, record: Mapping[str, Any], model: str, legacy: bool
) -> dict[str, Any]:
    answer = str(record["answer"])
    if legacy:
        metadata = arena_hard_metadata(answer, legacy=True)
        return {
            "question_id": item.id,
            "answer_id": _answer_id(),
            "model_id": model,
            "choices": [
                {"index": 0, "turns": [{"content": answer, "token_len": metadata["token_len"]}]}
            ],
            "tstamp": time.time(),
            # v0.1's show_result.py --style-control asserts that every answer has it.
            "conv_metadata": metadata,
        }
    return {
        "uid": item.id,
        "ans_id": _answer_id(),
        "model": model,
        "messages": [
            {"role": "user", "content": item.metadata["prompt"]},
            {"role": "assistant", "content": {"answer": answer}},
        ],
        "tstamp": time.time(),
        "metadata": arena_hard_metadata(answer),
    }


def _code_record(benchmark: str, item: BenchmarkItem, answer: str) -> dict[str, Any]:
    if benchmark == "humaneval":
        meta = item.metadata
        completion = humaneval_completion(meta["prompt"], meta["entry_point"], answer)
        return {"task_id": item.id, "completion": completion}
    if benchmark == "mbpp":
        return {"task_id": item.metadata["task_id"], "completion": extract_code(answer)}
    return {"name": item.id, "completion": extract_code(answer)}


def _jsonl(path: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        for record in records:
            handle.write(orjson.dumps(record) + b"\n")
    return path


def _mixeval(
    benchmark: Benchmark,
    pairs: list[tuple[BenchmarkItem, Mapping[str, Any]]],
    folder: Path,
    model: str,
) -> list[Path]:
    suffix = "_hard" if benchmark.name == "mixeval_hard" else ""
    model = mixeval_model_name(model)
    written = []
    for prefix, split in (("ff", "close_freeform"), ("mc", "close_multichoice")):
        records = [
            {
                **item.metadata["record"],
                "id": item.metadata["key"],
                "formated_input": item.messages[0]["content"],
                "response": str(record["answer"]),
            }
            for item, record in pairs
            if item.id.startswith(prefix + "-")
        ]
        written.append(_jsonl(folder / f"{model}_{split}{suffix}.jsonl", records))
    return written


def mixeval_model_name(model: str) -> str:
    """``model`` as a name MixEval can register: a lower-case Python identifier (MixEval
    imports ``mix_eval/models/<name>.py`` and looks the name up in ``AVAILABLE_MODELS``, so
    ``-`` and ``.`` are impossible), prefixed ``archon_`` so that it never clashes with a
    model MixEval ships (``gpt_4o``). ``"MoA-lite.v2"`` -> ``"archon_moa_lite_v2"``."""
    name = re.sub(r"[^0-9a-z]+", "_", model.lower()).strip("_")
    name = name.removeprefix("archon_") or "model"
    return f"archon_{name}"


def write_official(
    benchmark: Benchmark,
    answers: Iterable[Mapping[str, Any]],
    path: Path,
    *,
    model: str,
    legacy: bool = False,
) -> list[Path]:
    """Write answers in the format the benchmark's official evaluator reads.

    * ``mt_bench``: FastChat ``model_answer/<model>.jsonl`` lines (``question_id``,
      ``answer_id``, ``model_id``, ``choices: [{index, turns}]``, ``tstamp``).
    * ``arena_hard``: arena-hard-auto's ``model_answer/<model>.jsonl`` (``uid``, ``ans_id``,
      ``model``, ``messages`` ending with ``{"role": "assistant", "content": {"answer"}}``,
      ``tstamp``, ``metadata``); ``legacy=True`` gives the v0.1 shape (``question_id``,
      ``answer_id``, ``model_id``, ``choices: [{index, turns: [{content, token_len}]}]``,
      ``tstamp``, ``conv_metadata``); see `arena_hard_metadata`.
    * ``alpaca_eval``: a JSON list of ``{instruction, output, generator, dataset}``.
    * ``mixeval``/``mixeval_hard``: ``path`` is a folder; writes
      ``<name>_close_freeform[_hard].jsonl`` and ``<name>_close_multichoice[_hard].jsonl``
      with ``name`` = `mixeval_model_name` (``model``)
      (the source record, ``id``, ``formated_input`` and ``response``), the files
      MixEval's ``compute_metrics`` reads from ``<model_response_dir>/<model>/<benchmark>/
      <version>/``.
    * ``humaneval``/``mbpp``: ``{task_id, completion}`` lines; ``code_contests``: ``{name,
      completion}``.
    * ``gsm8k``/``math``: our own lines: ``id``, ``answer``, ``prediction``, ``reference``,
      ``correct``.

    Args:
        benchmark: the benchmark the answers are for.
        answers: batch output records (``id``, ``answer``, ``turns``); errors are skipped.
        path: the output file (a folder for MixEval).
        model: the name the evaluator shows (``model_id``, ``generator``...).
        legacy: arena-hard's v0.1 answer format instead of the current one.

    Returns:
        The files written.

    Raises:
        BenchmarkDataError: an answer's id is not in the benchmark, or an MT-Bench answer
            lacks a turn.
    """
    items = {item.id: item for item in benchmark.items()}
    pairs: list[tuple[BenchmarkItem, Mapping[str, Any]]] = []
    for record in answers:
        if "answer" not in record:
            log.warning("answer_skipped", id=record.get("id"), reason="error line")
            continue
        item = items.get(str(record.get("id")))
        if item is None:
            raise BenchmarkDataError(f"answer id {record.get('id')!r} is not in {benchmark.name}")
        pairs.append((item, record))
    name = benchmark.name
    if name in ("mixeval", "mixeval_hard"):
        return _mixeval(benchmark, pairs, path, model)
    if name == "alpaca_eval":
        rows = [
            {
                "instruction": item.metadata["instruction"],
                "output": str(record["answer"]),
                "generator": model,
                "dataset": item.metadata["dataset"],
            }
            for item, record in pairs
        ]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
        return [path]
    return [_jsonl(path, (_line(name, item, record, model, legacy) for item, record in pairs))]


def _line(
    name: str, item: BenchmarkItem, record: Mapping[str, Any], model: str, legacy: bool
) -> dict[str, Any]:
    answer = str(record["answer"])
    if name == "mt_bench":
        return _mt_bench(item, record, model)
    if name == "arena_hard":
        return _arena_hard(item, record, model, legacy)
    if name in ("humaneval", "mbpp", "code_contests"):
        return _code_record(name, item, answer)
    result = score(name, item, answer)
    return {
        "id": item.id,
        "answer": answer,
        "prediction": result.prediction,
        "reference": item.reference,
        "correct": result.correct,
    }
