"""How each benchmark's question is put to the model, in our own wording.

None of these prompts is a benchmark's official prompt, so scores measure the architecture
under our prompts and may differ from published numbers. This matters most for MixEval:
its protocol has its own prompt templates for free-form and multiple-choice questions and
grades replies with a model parser, while we ask in our words and parse by rule
(`score`). MixEval scores from this package are therefore not comparable with the MixEval
leaderboard; for a comparable number, run MixEval's own ``compute_metrics`` on the
response files `write_official` writes (with the caveat that the replies still answer our
prompts). The other prompts ask for the final answer in the shape the scorers read:
GSM8K's last line, MATH's ``\\boxed{}``, one fenced code block for the code benchmarks.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "code_contests_prompt",
    "gsm8k_prompt",
    "humaneval_prompt",
    "math_prompt",
    "mbpp_prompt",
    "mixeval_free_form_prompt",
    "mixeval_multiple_choice_prompt",
    "option_letters",
]

#: The line GSM8K answers end with; the scorer looks for it first.
GSM8K_ANSWER_PREFIX = "The answer is:"


def gsm8k_prompt(question: str) -> str:
    """A grade-school word problem: show the working, then a fixed final line."""
    return (
        "Solve the following math word problem. Work through it step by step, then give "
        f'the final number on a last line of the form "{GSM8K_ANSWER_PREFIX} <number>".\n\n'
        f"Question: {question.strip()}"
    )


def math_prompt(problem: str) -> str:
    """A competition problem: reasoning, then the final answer in ``\\boxed{}``."""
    return (
        "Solve the following problem. Reason step by step and write your final answer, "
        "simplified, inside \\boxed{}.\n\n"
        f"Problem: {problem.strip()}"
    )


def humaneval_prompt(code: str) -> str:
    """A function signature and docstring to complete."""
    return (
        "Complete the following Python function. Reply with the complete function, "
        "including its signature and the imports it needs, in one ```python code block.\n\n"
        f"```python\n{code.rstrip()}\n```"
    )


def mbpp_prompt(text: str, tests: Sequence[str]) -> str:
    """An MBPP task: the description and the asserts the code must pass."""
    asserts = "\n".join(tests)
    return (
        f"{text.strip()}\nYour code should pass these tests:\n\n{asserts}\n\n"
        "Reply with the Python code in one ```python code block."
    )


def code_contests_prompt(description: str) -> str:
    """A competitive programming problem solved by a stdin/stdout program."""
    return (
        "Write a Python 3 program that solves the problem below. The program reads the "
        "input from standard input and writes the answer to standard output. Reply with "
        "the program in one ```python code block.\n\n"
        f"{description.strip()}"
    )


def option_letters(count: int) -> list[str]:
    """``A``, ``B``, ``C``... for ``count`` options."""
    return [chr(ord("A") + index) for index in range(count)]


def _with_context(context: object, text: str) -> str:
    # MixEval stores a missing context as null, "none" or blank.
    if context is None or str(context).strip().lower() in ("", "none", "null"):
        return text
    return f"{context}\n{text}"


def mixeval_multiple_choice_prompt(context: object, prompt: str, options: Sequence[str]) -> str:
    """A MixEval multiple-choice question with lettered options (our wording, not
    MixEval's template: see the module docstring)."""
    letters = option_letters(len(options))
    lettered = "\n".join(f"{letter}. {text}" for letter, text in zip(letters, options, strict=True))
    body = f"{prompt}\n{lettered}\nReply with the letter of the correct option only."
    return _with_context(context, body)


def mixeval_free_form_prompt(context: object, prompt: str, source: str) -> str:
    """A MixEval free-form question; reasoning tasks ask for the steps (our wording, not
    MixEval's template: see the module docstring)."""
    if source in ("GSM8k", "MATH", "BBH"):
        instruction = "Think it through step by step, then state the final answer."
    else:
        instruction = "Answer briefly."
    return "Question: " + _with_context(context, f"{prompt}\n{instruction}")
