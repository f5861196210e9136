"""Loaders of the question-answering and chat benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._types import Message
from ._files import field_of, packaged, read_json, read_jsonl, read_records, require_path
from ._prompts import gsm8k_prompt, math_prompt, mixeval_free_form_prompt
from ._prompts import mixeval_multiple_choice_prompt as mc_prompt
from ._types import BenchmarkDataError, BenchmarkItem

__all__ = [
    "ALPACA_EVAL_SOURCE",
    "MATH_SOURCE",
    "MIXEVAL_SOURCE",
    "load_alpaca_eval",
    "load_arena_hard",
    "load_gsm8k",
    "load_math",
    "load_mixeval",
    "load_mt_bench",
]

ALPACA_EVAL_SOURCE = (
    "GitHub tatsu-lab/alpaca_eval, file results/gpt4_1106_preview/model_outputs.json "
    "(the 805 instructions with the GPT-4 Turbo baseline outputs), or the Hugging Face "
    "dataset tatsu-lab/alpaca_eval (alpaca_eval.json); data licence CC BY-NC 4.0"
)
MIXEVAL_SOURCE = (
    "GitHub Psycoy/MixEval, folder mix_eval/data/mixeval-<version>/ (e.g. "
    "mixeval-2024-08-11), which holds mixeval/ and mixeval-hard/ with free-form.json and "
    "multiple-choice.json; pass that version folder. Note: archon-async asks with its own "
    "prompts and parses answers by rule, not with MixEval's templates and model parser, so "
    "its scores are not comparable with the MixEval leaderboard"
)
MATH_SOURCE = (
    "the MATH release (Hendrycks et al.), as its test folder MATH/test (one "
    "<subject>/<n>.json file per problem, with problem, level, type and solution) or the "
    "MATH folder itself; or a JSON/JSON Lines file of records with problem and solution, "
    "e.g. GitHub ZubinGou/math-evaluation-harness data/math/test.jsonl (5000 problems) or "
    "data/math_oai/test.jsonl (MATH-500); you need the right to use the problems"
)


def _user(text: str) -> tuple[Message, ...]:
    return (Message(role="user", content=text),)


def load_gsm8k(path: Path | None) -> list[BenchmarkItem]:
    """GSM8K test: 1319 problems; the reference is the number after ``####``."""
    source = path or packaged("gsm8k/test.jsonl")
    items = []
    for index, record in enumerate(read_jsonl(source)):
        where = f"{source}, record {index}"
        question = field_of(record, "question", str, where)
        answer = field_of(record, "answer", str, where)
        if "####" not in answer:
            raise BenchmarkDataError(f"{where}: the answer has no '#### <number>' line")
        final = answer.rsplit("####", 1)[1].strip()
        items.append(
            BenchmarkItem(
                id=str(index),
                messages=_user(gsm8k_prompt(question)),
                reference=final,
                metadata={"question": question},
            )
        )
    return items


def load_math(path: Path | None) -> list[BenchmarkItem]:
    """MATH (5000 or MATH-500): the reference is the solution's last ``\\boxed{}``.

    ``path`` is the release's folder layout (``MATH/test/<subject>/<n>.json``; given the
    ``MATH`` folder, its ``test`` split is read; ids are ``<subject>/<n>``), one of its
    files, or a JSON, JSON Lines or Parquet file of records.

    Raises:
        BenchmarkDataError: no path, a path that cannot be read or holds no problem, or a
            record without a problem or an answer; the message names the file.
    """
    source = require_path(path, benchmark="MATH", where_to_get=MATH_SOURCE)
    try:
        records = _math_records(source)
        if not records:
            raise BenchmarkDataError(f"{source}: no .json problem files or records in it")
        return [_math_item(record, ident, where) for record, ident, where in records]
    except BenchmarkDataError as exc:
        raise BenchmarkDataError(f"MATH: {exc}. What to pass: {MATH_SOURCE}") from None


def _math_records(source: Path) -> list[tuple[dict[str, Any], str, str]]:
    """(record, id, where) for every problem under ``source``."""
    if not source.is_dir():
        found = []
        for index, record in enumerate(read_records(source)):
            ident = record.get("unique_id", record.get("idx", index))
            found.append((record, str(ident), f"{source}, record {index}"))
        return found
    root = source / "test" if (source / "test").is_dir() else source
    found = []
    for file in sorted(root.rglob("*.json"), key=_natural):
        ident = file.relative_to(root).with_suffix("").as_posix()
        records = read_records(file)
        if len(records) == 1:
            found.append((records[0], ident, str(file)))
        else:  # not the release's one problem a file: number them
            found.extend(
                (record, f"{ident}#{n}", f"{file}, record {n}") for n, record in enumerate(records)
            )
    return found


def _natural(file: Path) -> tuple[tuple[int, int, str], ...]:
    # algebra/2.json before algebra/10.json, as the release numbers its problems.
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in file.with_suffix("").parts
    )


def _math_item(record: dict[str, Any], ident: str, where: str) -> BenchmarkItem:
    from ._math_answers import last_boxed

    problem = field_of(record, "problem", str, where)
    answer = record.get("answer")
    if not isinstance(answer, str):
        answer = last_boxed(field_of(record, "solution", str, where))
    if answer is None:
        raise BenchmarkDataError(f"{where}: the solution has no \\boxed{{}} answer")
    metadata: dict[str, Any] = {
        key: record[key] for key in ("level", "type", "subject") if key in record
    }
    return BenchmarkItem(
        id=ident,
        messages=_user(math_prompt(problem)),
        reference=answer,
        metadata={"problem": problem, **metadata},
    )


def load_mt_bench(path: Path | None) -> list[BenchmarkItem]:
    """MT-Bench: 80 two-turn questions; references for math, reasoning and coding."""
    source = path or packaged("mt_bench/question.jsonl")
    references: dict[int, list[str]] = {}
    if path is None:
        for record in read_jsonl(packaged("mt_bench/reference_answer_gpt-4.jsonl")):
            references[record["question_id"]] = list(record["choices"][0]["turns"])
    items = []
    for index, record in enumerate(read_jsonl(source)):
        where = f"{source}, record {index}"
        turns = field_of(record, "turns", list, where)
        if not turns or not all(isinstance(turn, str) for turn in turns):
            raise BenchmarkDataError(f"{where}: 'turns' must be a list of strings")
        question_id = record.get("question_id")
        reference = references.get(question_id) if isinstance(question_id, int) else None
        items.append(
            BenchmarkItem(
                id=str(question_id),
                turns=tuple(turns),
                reference=reference or record.get("reference"),
                metadata={"question_id": question_id, "category": record.get("category")},
            )
        )
    return items


def load_arena_hard(path: Path | None) -> list[BenchmarkItem]:
    """Arena-Hard-Auto v0.1: 500 prompts (current ``uid``/``prompt`` or legacy format)."""
    source = path or packaged("arena_hard/question.jsonl")
    items = []
    for index, record in enumerate(read_jsonl(source)):
        where = f"{source}, record {index}"
        if "uid" in record:
            uid, prompt = (
                field_of(record, "uid", str, where),
                field_of(record, "prompt", str, where),
            )
        else:  # the legacy v0.1 shape: question_id and turns [{content}]
            uid = field_of(record, "question_id", str, where)
            prompt = field_of(record, "turns", list, where)[0]["content"]
        items.append(
            BenchmarkItem(
                id=uid,
                messages=_user(prompt),
                metadata={
                    "uid": uid,
                    "prompt": prompt,
                    "category": record.get("category"),
                    "cluster": record.get("cluster"),
                },
            )
        )
    return items


def load_alpaca_eval(path: Path | None) -> list[BenchmarkItem]:
    """AlpacaEval 2.0: 805 instructions; the reference is the baseline output if present."""
    source = require_path(path, benchmark="AlpacaEval", where_to_get=ALPACA_EVAL_SOURCE)
    items = []
    for index, record in enumerate(read_records(source)):
        where = f"{source}, record {index}"
        instruction = field_of(record, "instruction", str, where)
        items.append(
            BenchmarkItem(
                id=str(index),
                messages=_user(instruction),
                reference=record.get("output"),
                metadata={
                    "instruction": instruction,
                    "dataset": record.get("dataset"),
                    "baseline_generator": record.get("generator"),
                },
            )
        )
    return items


def _mixeval_dir(path: Path | None, hard: bool) -> Path:
    name = "MixEval-Hard" if hard else "MixEval"
    root = require_path(path, benchmark=name, where_to_get=MIXEVAL_SOURCE)
    subset = "mixeval-hard" if hard else "mixeval"
    for candidate in (root / subset, root):
        if (candidate / "free-form.json").is_file() and (
            candidate / "multiple-choice.json"
        ).is_file():
            return candidate
    raise BenchmarkDataError(
        f"{name}: {root} holds neither {subset}/free-form.json nor free-form.json "
        f"(with multiple-choice.json). Get it from: {MIXEVAL_SOURCE}"
    )


def load_mixeval(path: Path | None, *, hard: bool = False) -> list[BenchmarkItem]:
    """MixEval or MixEval-Hard: free-form items (ids ``ff-N``) then multiple-choice (``mc-N``)."""
    folder = _mixeval_dir(path, hard)
    items = []
    for split, prefix in (("free-form", "ff"), ("multiple-choice", "mc")):
        data = read_json(folder / f"{split}.json")
        if not isinstance(data, dict):
            raise BenchmarkDataError(f"{folder / split}.json: expected an object keyed by index")
        for key, record in data.items():
            items.append(_mixeval_item(record, key, prefix, f"{folder / split}.json, key {key}"))
    return items


def _mixeval_item(record: Any, key: str, prefix: str, where: str) -> BenchmarkItem:
    if not isinstance(record, dict):
        raise BenchmarkDataError(f"{where}: not an object")
    prompt = field_of(record, "prompt", str, where)
    target = field_of(record, "target", list, where)
    source = str(record.get("benchmark_name", ""))
    if prefix == "mc":
        options = field_of(record, "options", list, where)
        text = mc_prompt(record.get("context"), prompt, [str(option) for option in options])
    else:
        text = mixeval_free_form_prompt(record.get("context"), prompt, source)
    return BenchmarkItem(
        id=f"{prefix}-{key}",
        messages=_user(text),
        reference=target,
        metadata={"key": key, "record": record},
    )
