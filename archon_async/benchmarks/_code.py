"""Getting runnable code out of a model's answer, and the test programs built around it."""

from __future__ import annotations

import builtins
import re
import textwrap
from collections.abc import Sequence

__all__ = [
    "extract_code",
    "humaneval_completion",
    "humaneval_program",
    "mbpp_program",
    "stdio_code",
    "tested_function",
]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def _blocks(text: str) -> list[str] | None:
    """The fenced blocks worth considering: those tagged python, else the untagged ones,
    else all; None when the answer has no fence (it is then code as a whole)."""
    blocks: list[tuple[str, str]] = [
        (match.group(1).lower(), match.group(2)) for match in _FENCE.finditer(text)
    ]
    if not blocks:
        return None
    python = [body for tag, body in blocks if tag in ("python", "py", "python3")]
    return python or [body for tag, body in blocks if not tag] or [b for _, b in blocks]


def extract_code(text: str, *, entry_point: str | None = None) -> str:
    """The code of an answer.

    With fenced blocks (see `_blocks`): the last one that defines ``entry_point`` (a reply
    often follows its solution with a block of its own tests or an example that only calls
    the function); without ``entry_point``, or when no block defines it, the last block.
    With no fence, the whole answer is taken as code.
    """
    candidates = _blocks(text)
    if candidates is None:
        return text.strip("\n")
    if entry_point is not None:
        defining = [body for body in candidates if _defines(body, entry_point)]
        if defining:
            return defining[-1].strip("\n")
    return candidates[-1].strip("\n")


_BUILTINS = frozenset(dir(builtins))
_READS_INPUT = re.compile(r"\binput\s*\(|sys\.stdin|\bopen\s*\(\s*0\b|fileinput")


def stdio_code(text: str) -> str:
    """The program of a standard-input answer (CodeContests): the last block that reads
    standard input (``input()``, ``sys.stdin``, ``open(0)``), else the last block."""
    candidates = _blocks(text)
    if candidates is None:
        return text.strip("\n")
    reading = [body for body in candidates if _READS_INPUT.search(body)]
    return (reading or candidates)[-1].strip("\n")


# A call that is not a method or attribute call: ``f(`` but not ``math.isclose(``.
_CALL = re.compile(r"(?<![.\w])([A-Za-z_]\w*)\s*\(")


def tested_function(tests: Sequence[str], answer: str) -> str | None:
    """The function MBPP's asserts test: the first name they call that is not a builtin
    (``assert set(f(x)) == ...`` tests ``f``), preferring one the answer defines."""
    called = [
        name
        for test in tests
        for name in _CALL.findall(test)
        if name not in _BUILTINS and name != "assert"
    ]
    blocks = _blocks(answer) or [answer]
    for name in called:
        if any(_defines(block, name) for block in blocks):
            return str(name)
    return str(called[0]) if called else None


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
        return "\n\n" + textwrap.dedent(code) + "\n"
    return _normalise_body(prompt, code) + "\n"


def _normalise_body(prompt: str, body: str) -> str:
    """A function body re-indented by one level of four spaces under the prompt's stub.

    Models give bodies indented with tabs, with five spaces, from column 0, or with the
    first line at column 0 and the rest indented; each is re-indented (leading tabs count
    as one level each) and the first shape that compiles after the prompt is kept.
    """
    lines = [_untab(line) for line in body.splitlines()]
    plain = _indent("\n".join(lines))
    shown = [index for index, line in enumerate(lines) if line.strip()]
    candidates = [plain]
    if len(shown) > 1:
        rest = min(len(lines[i]) - len(lines[i].lstrip()) for i in shown[1:])
        first = shown[0]
        shifted = [*lines[:first], " " * rest + lines[first].lstrip(), *lines[first + 1 :]]
        candidates.append(_indent("\n".join(shifted)))
    for candidate in candidates:
        try:
            compile(prompt + candidate + "\n", "<humaneval>", "exec")
        except (SyntaxError, ValueError):
            continue
        return candidate
    return plain


def _untab(line: str) -> str:
    stripped = line.lstrip("\t")
    return "    " * (len(line) - len(stripped)) + stripped


def _indent(code: str) -> str:
    return textwrap.indent(textwrap.dedent(code), "    ", lambda line: bool(line.strip()))


def humaneval_program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    """The program the HumanEval harness runs: prompt, completion, tests, ``check(f)``."""
    return f"{prompt}{completion}\n\n{test}\n\ncheck({entry_point})\n"


def mbpp_program(setup: str, code: str, tests: Sequence[str]) -> str:
    """The MBPP program: the answer's code, the setup code, then every assert.

    The setup comes after the code because it may use the code's classes (task 367 builds
    trees of the solution's ``Node``).
    """
    return "\n".join([code, "", setup, "", *tests, ""])
