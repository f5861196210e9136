"""Getting runnable code out of a model's answer, and the test programs built around it."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["extract_code", "humaneval_completion", "humaneval_program", "mbpp_program"]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(text: str, *, entry_point: str | None = None) -> str:
    """The code of an answer.

    Fenced blocks tagged python (or untagged, when none is tagged) are considered: the last
    one that defines ``entry_point`` if given, otherwise the longest. With no fence, the
    whole answer is taken as code.
    """
    blocks: list[tuple[str, str]] = [
        (match.group(1).lower(), match.group(2)) for match in _FENCE.finditer(text)
    ]
    if not blocks:
        return text.strip("\n")
    python = [body for tag, body in blocks if tag in ("python", "py", "python3")]
    candidates = python or [body for tag, body in blocks if not tag] or [b for _, b in blocks]
    if entry_point is not None:
        defining = [body for body in candidates if _defines(body, entry_point)]
        if defining:
            return defining[-1].strip("\n")
    return max(candidates, key=len).strip("\n")


def _defines(code: str, name: str) -> bool:
    return (
        re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None
    )


def humaneval_completion(prompt: str, entry_point: str, answer: str) -> str:
    """What follows the HumanEval prompt so that ``prompt + completion`` is the program.

    An answer that defines the function in full is appended after the prompt: the prompt's
    stub (signature and docstring only) is valid Python, and the later definition wins,
    while the prompt's imports and helper functions stay available. An answer that is only
    the body is appended as it is, as the official evaluator does.
    """
    code = extract_code(answer, entry_point=entry_point)
    if _defines(code, entry_point):
        return "\n\n" + code + "\n"
    lines = code.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if first and not first[0].isspace():
        # A body given without its indentation: indent it under the stub.
        code = "\n".join(("    " + line) if line.strip() else line for line in lines)
    return code + "\n"


def humaneval_program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    """The program the HumanEval harness runs: prompt, completion, tests, ``check(f)``."""
    return f"{prompt}{completion}\n\n{test}\n\ncheck({entry_point})\n"


def mbpp_program(setup: str, code: str, tests: Sequence[str]) -> str:
    """The MBPP program: the answer's code, the setup code, then every assert.

    The setup comes after the code because it may use the code's classes (task 367 builds
    trees of the solution's ``Node``).
    """
    return "\n".join([code, "", setup, "", *tests, ""])
