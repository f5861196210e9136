"""Which code of an answer is scored, and HumanEval bodies in every indentation."""

from __future__ import annotations

import re
import textwrap

import pytest

from archon_async.benchmarks import Sandbox, get_benchmark, score_code
from archon_async.benchmarks._code import (
    extract_code,
    humaneval_completion,
    stdio_code,
)
from archon_async.benchmarks._code import (
    tested_function as find_tested_function,
)


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(timeout_s=20)


def test_the_block_that_defines_the_function_wins_over_a_longer_one() -> None:
    solution = "def add(a, b):\n    return a + b"
    checks = "\n".join(f"assert add({n}, {n}) == {2 * n}" for n in range(20))
    answer = f"Solution:\n```python\n{solution}\n```\nTests:\n```python\n{checks}\n```"
    assert extract_code(answer, entry_point="add") == solution
    # Without a tested function the last block is taken, not the longest.
    assert extract_code("```python\nx = 1\ny = 2\n```\n```python\nz = 3\n```") == "z = 3"
    # The last of several definitions: a reply's corrected version follows its first try.
    retried = (
        "```python\ndef add(a, b):\n    return a - b\n```\nFixed:\n```python\n" + solution + "\n```"
    )
    assert extract_code(retried, entry_point="add") == solution


@pytest.mark.parametrize(
    ("tests", "answer", "expected"),
    [
        (["assert remove_Occ('hello', 'l') == 'heo'"], "", "remove_Occ"),
        (["assert set(similar_elements((3, 4), (4, 5))) == set((4,))"], "", "similar_elements"),
        (["assert math.isclose(area(3), 28.27, rel_tol=0.001)"], "", "area"),
        (["assert sorted(helper(2)) == [1]", "assert f(1) == 2"], "def f(x): ...", "f"),
        ([], "", None),
    ],
)
def test_the_tested_mbpp_function_is_found(
    tests: list[str], answer: str, expected: str | None
) -> None:
    assert find_tested_function(tests, answer) == expected


async def test_an_mbpp_answer_followed_by_its_own_longer_tests_passes(sandbox: Sandbox) -> None:
    item = get_benchmark("mbpp").items()[0]
    name = find_tested_function(item.reference, item.metadata["code"])
    own_tests = "\n".join(f"print({name}('abcabc{n}', 'a'))" for n in range(30))
    answer = f"```python\n{item.metadata['code']}\n```\nUsage:\n```python\n{own_tests}\n```"
    verdict = await score_code("mbpp", item, answer, sandbox=sandbox)
    assert verdict.correct, verdict
    assert verdict.prediction == item.metadata["code"].strip("\n")


def test_a_stdio_answer_is_the_block_that_reads_input() -> None:
    program = "import sys\nn = int(sys.stdin.readline())\nprint(solve(n))"
    answer = (
        "```python\ndef solve(n):\n    return n * 2\n" + program.split("\n", 1)[1] + "\n```\n"
        "Example:\n```python\nassert solve(3) == 6\n```"
    )
    assert "sys.stdin" in stdio_code(answer)
    assert stdio_code("```python\nprint(input())\n```\n```\n3\n```") == "print(input())"
    assert stdio_code("print(int(input()) + 1)") == "print(int(input()) + 1)"


def _indent_with(body: str, unit: str, base: int = 1) -> str:
    """``body`` (four spaces a level) re-indented with ``unit`` a level, from ``base``."""
    lines = []
    for line in body.splitlines():
        stripped = line.lstrip(" ")
        level = (len(line) - len(stripped)) // 4
        lines.append((unit * (level - 1 + base) + stripped) if stripped else "")
    return "\n".join(lines) + "\n"


def _first_at_column_zero(body: str) -> str:
    lines = body.splitlines()
    return "\n".join([lines[0].lstrip(), *lines[1:]]) + "\n"


HUMANEVAL = get_benchmark("humaneval").items()
BODY = HUMANEVAL[0].metadata["canonical_solution"]
SHAPES = {
    "as given": BODY,
    "first line at column 0": _first_at_column_zero(BODY),
    "tabs": _indent_with(BODY, "\t"),
    "five spaces": re.sub(r"(?m)^(?=\s*\S)", " ", BODY),
    "column 0": textwrap.dedent(BODY),
    "eight spaces": textwrap.indent(BODY, "    "),
    "two spaces": _indent_with(BODY, "  "),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_humaneval_body_indentation_compiles_under_the_prompt(shape: str) -> None:
    item = HUMANEVAL[0]
    prompt = item.metadata["prompt"]
    answer = f"```python\n{SHAPES[shape]}```"
    completion = humaneval_completion(prompt, item.metadata["entry_point"], answer)
    compile(prompt + completion, "<test>", "exec")
    # The body's structure survives: the loops still nest and the return stays last.
    assert [line.strip() for line in completion.splitlines() if line.strip()] == [
        line.strip() for line in BODY.splitlines() if line.strip()
    ]


@pytest.mark.parametrize("shape", ["first line at column 0", "tabs", "five spaces", "column 0"])
async def test_a_right_humaneval_body_in_any_indentation_passes(
    shape: str, sandbox: Sandbox
) -> None:
    verdict = await score_code("humaneval", HUMANEVAL[0], SHAPES[shape], sandbox=sandbox)
    assert verdict.correct, verdict


async def test_a_wrong_humaneval_body_still_fails_after_normalising(sandbox: Sandbox) -> None:
    wrong = "return True\n"  # a one-line body at column 0: indented, then wrong
    verdict = await score_code("humaneval", HUMANEVAL[0], wrong, sandbox=sandbox)
    assert not verdict.correct and verdict.status == "failed"
    assert verdict.prediction == "    return True\n"


def test_a_whole_function_indented_in_its_block_is_dedented() -> None:
    item = HUMANEVAL[0]
    whole = textwrap.indent(item.metadata["prompt"] + BODY, "    ")
    completion = humaneval_completion(item.metadata["prompt"], "has_close_elements", whole)
    compile(item.metadata["prompt"] + completion, "<test>", "exec")
    assert "\ndef has_close_elements(" in completion
