"""MATH's final answer: which part of a solution is the answer, and whether it is right.

Extraction follows MATH's protocol (Hendrycks et al. 2021): the last ``\\boxed{}`` is the
answer; a solution without one is read from its final statement. Equality is Math-Verify's
(`latex_equal`), except for answers made only of words (``\\text{even}``, ``\\text{(C)}``,
``Sunday``), which must be the same words: an empty answer is never right.
"""

from __future__ import annotations

import re

from ._equivalence import latex_equal
from ._gsm8k_answers import normalize_number

__all__ = [
    "extract_math_answer",
    "last_boxed",
    "math_equal",
    "normalize_math_answer",
]


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    brace = text.find("{", start)
    if brace < 0:
        # "\boxed 5" without braces: take the token after the space.
        rest = text[start:].split(None, 1)
        return rest[1].split("$")[0].strip() if len(rest) > 1 else None
    depth = 0
    for position in range(brace, len(text)):
        if text[position] == "{":
            depth += 1
        elif text[position] == "}":
            depth -= 1
            if depth == 0:
                return text[brace + 1 : position]
    return None


# The last "answer is X" / "Answer: X" of a line: the greedy lead-in skips earlier ones.
_STATED = re.compile(r".*\banswer\s*(?:is|:)\s*:?\s*(.+)", re.IGNORECASE)
_MATH_SPAN = re.compile(r"^\$+(.+?)\$+|^\\\((.+?)\\\)|^\\\[(.+?)\\\]")


def extract_math_answer(text: str) -> str | None:
    """The final answer of a MATH solution, or None.

    Tried in order: the last ``\\boxed{}`` (what the prompt asks for); else the last
    statement "the (final) answer is X" / "Answer: X"; else the last non-blank line. A
    statement keeps only its first math span (``$...$``) or its first sentence.
    """
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        stated = _STATED.match(line)
        if stated:
            return _statement(stated.group(1))
    return _statement(lines[-1]) if lines else None


def _statement(text: str) -> str:
    text = text.strip().strip("*").strip()
    span = _MATH_SPAN.match(text)
    if span:
        return next(group for group in span.groups() if group is not None).strip()
    # The first sentence: a period that ends it is followed by a space or the end.
    return re.split(r"\.(?:\s|$)", text, maxsplit=1)[0].strip()


_UNITS = re.compile(r"\\(?:text|mbox|mathrm)\{\s*[a-zA-Z ]*\}\s*$")
_LEFT_RIGHT = re.compile(r"\\(?:left|right)(?=[\\(\[\]|).{}])")


def _fix_fracs(text: str) -> str:
    # \frac12 -> \frac{1}{2}, \frac1{2} -> \frac{1}{2}
    def braced(match: re.Match[str]) -> str:
        num, den = match.group(1), match.group(2)
        return f"\\frac{{{num}}}{{{den}}}"

    text = re.sub(r"\\frac(\d)(\d)", braced, text)
    text = re.sub(r"\\frac(\d)\{", r"\\frac{\1}{", text)
    return re.sub(r"\\frac\{([^{}]*)\}(\d)", r"\\frac{\1}{\2}", text)


def _fix_sqrt(text: str) -> str:
    return re.sub(r"\\sqrt(\w)", r"\\sqrt{\1}", text)


def normalize_math_answer(answer: str) -> str:
    """The usual MATH answer normalisation.

    Strips spaces, ``\\left``/``\\right``, ``\\!``, ``$``, degree signs, trailing text units and
    a leading ``x =``; maps ``dfrac``/``tfrac`` to ``frac``; braces bare fractions and square
    roots; turns a simple ``a/b`` into ``\\frac{a}{b}`` and ``0.5`` into ``\\frac{1}{2}``.
    """
    text = answer.strip().replace("\n", "").rstrip(".")
    text = text.replace("\\!", "").replace("\\\\", "\\").replace("\\$", "").replace("$", "")
    text = text.replace("dfrac", "frac").replace("tfrac", "frac")
    text = _LEFT_RIGHT.sub("", text)
    text = text.replace("^{\\circ}", "").replace("^\\circ", "").replace("°", "")
    text = _UNITS.sub("", text).strip()
    text = text.replace("\\%", "").replace("%", "")
    text = re.sub(r"\\text\{\s*([^{}]*)\}", r"\1", text)
    if re.match(r"^[a-zA-Z]\s*=", text) and len(text.split("=")[0].strip()) <= 2:
        text = text.split("=", 1)[1]
    text = text.replace(" ", "")
    text = _fix_sqrt(_fix_fracs(text))
    if re.fullmatch(r"-?\d+/\d+", text):
        num, den = text.lstrip("-").split("/")
        text = ("-" if text.startswith("-") else "") + f"\\frac{{{num}}}{{{den}}}"
    if text == "0.5":
        text = "\\frac{1}{2}"
    if text.startswith("."):
        text = "0" + text
    plain_number = re.fullmatch(r"-?(?:\d{1,3}(?:,\d{3})+|\d*)(?:\.\d+)?", text)
    return normalize_number(text) if plain_number and text not in ("", "-") else text


# Wrappers that only typeset words; what they hold is the answer's text.
_TEXT_WRAPPER = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_WORDS_ONLY = re.compile(r"[A-Za-z][A-Za-z' -]*")


def _words(answer: str) -> str | None:
    """The words of an answer made only of words (``\\text{(C)}`` -> ``c``), else None."""
    text = _TEXT_WRAPPER.sub(r"\1", answer).replace("$", "").strip().rstrip(".")
    text = re.sub(r"^\((.*)\)$", r"\1", text.strip()).strip()  # "(C)" is choice C
    if not _WORDS_ONLY.fullmatch(text):
        return None
    return " ".join(text.lower().split())


def _plain(answer: str) -> str:
    """LaTeX spacing and thousands separators that no reader would call part of the answer."""
    text = answer.strip().rstrip(".").replace("{,}", ",").replace("\\!", "")
    # "1,000" is one thousand only when the whole answer is such a number: "1,2" is a list.
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", text.replace(" ", "")):
        text = text.replace(",", "").replace(" ", "")
    return text


def math_equal(prediction: str | None, reference: str) -> bool:
    """Whether a MATH answer equals the reference.

    Answers made only of words must be the same words (case aside); otherwise Math-Verify
    decides (numbers by value, expressions symbolically, sets, intervals, tuples and
    matrices element by element). None or an empty answer is never right.
    """
    if prediction is None or not prediction.strip():
        return False
    said, wanted = _words(prediction), _words(reference)
    if said is not None or wanted is not None:
        return said is not None and said == wanted
    return latex_equal(_plain(reference), _plain(prediction))
