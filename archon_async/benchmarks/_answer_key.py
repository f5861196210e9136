"""The answers a simulated model gives to a benchmark's questions when it "knows" them.

The simulated provider answers a question of its answer key correctly with the model's
configured skill, writing "... The answer is <answer>." So that architectures can be
compared on a benchmark offline, each answer here is one the benchmark's scorer accepts
inside such a reply: a fenced reference program for the code benchmarks (the fence is what
`extract_code` finds among the surrounding words), ``\\boxed{}`` for MATH, the number for
GSM8K, the option letter or target text for MixEval. Judged benchmarks (MT-Bench,
Arena-Hard, AlpacaEval) have no right answer, so no key.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._prompts import option_letters
from ._types import BenchmarkItem

__all__ = ["simulated_answer", "simulated_answer_key"]


def _fenced(code: str) -> str:
    # MBPP's reference code has Windows line endings; the fence needs plain newlines.
    body = code.replace("\r\n", "\n").strip("\n")
    return f"```python\n{body}\n```"


def _code_answer(name: str, item: BenchmarkItem) -> str | None:
    meta = item.metadata
    if name == "humaneval":
        # The prompt (signature and docstring) plus the canonical body: a whole function.
        body = meta.get("canonical_solution")
        return _fenced(meta["prompt"] + body) if isinstance(body, str) else None
    if name == "mbpp":
        code = meta.get("code")
        return _fenced(code) if isinstance(code, str) else None
    solution = meta.get("python_solution")  # CodeContests, when the data carries solutions
    return _fenced(solution) if isinstance(solution, str) else None


def _mixeval_answer(item: BenchmarkItem) -> str | None:
    targets = list(item.reference or [])
    if not targets:
        return None
    options = item.metadata["record"].get("options")
    if options:
        letters = option_letters(len(options))
        index = targets[0]
        return letters[index] if isinstance(index, int) and 0 <= index < len(letters) else None
    return str(targets[0])


def simulated_answer(benchmark: str, item: BenchmarkItem) -> str | None:
    """The answer to ``item`` that ``benchmark``'s scorer marks right, or None if it has none.

    Args:
        benchmark: the benchmark's registry name (``humaneval``, ``math``...).
        item: one of its questions.
    """
    if benchmark in ("humaneval", "mbpp", "code_contests"):
        return _code_answer(benchmark, item)
    if benchmark == "math" and isinstance(item.reference, str):
        return f"\\boxed{{{item.reference}}}"
    if benchmark == "gsm8k" and isinstance(item.reference, str | int | float):
        return str(item.reference)
    if benchmark in ("mixeval", "mixeval_hard"):
        return _mixeval_answer(item)
    return None


def simulated_answer_key(benchmark: str, items: Iterable[BenchmarkItem]) -> dict[str, str]:
    """Question text -> answer (`simulated_answer`), the simulated provider's answer key.

    The question text is the item's last message, which is how the simulated provider
    recognises the question inside any component's prompt. Multi-turn items and items
    without an answer are left out.
    """
    key: dict[str, str] = {}
    for item in items:
        answer = simulated_answer(benchmark, item)
        if answer is not None and item.messages:
            key[item.messages[-1]["content"]] = answer
    return key
