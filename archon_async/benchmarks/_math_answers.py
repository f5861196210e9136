"""Final-answer extraction and normalisation for GSM8K and MATH."""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = [
    "extract_gsm8k_answer",
    "extract_math_answer",
    "last_boxed",
    "math_equal",
    "normalize_math_answer",
    "normalize_number",
]

_NUMBER = r"-?\$?\s*\d[\d,]*(?:\.\d+)?|-?\$?\s*\.\d+"
_ANSWER_IS = re.compile(r"answer\s*(?:is|:)\s*:?\s*\**\s*(" + _NUMBER + ")", re.IGNORECASE)
_HASHES = re.compile(r"####\s*(" + _NUMBER + ")")
_ANY_NUMBER = re.compile(_NUMBER)


def normalize_number(text: str) -> str:
    """``"$1,234.50"`` -> ``"1234.5"``: drops $, commas, spaces and trailing zeros/dots."""
    cleaned = text.replace(",", "").replace("$", "").replace(" ", "").rstrip(".")
    if "." in cleaned:
        cleaned = cleaned.rstrip("0").rstrip(".")
    return "0" if cleaned == "-0" else cleaned


def extract_gsm8k_answer(text: str) -> str | None:
    """The final number of a GSM8K answer, normalised, or None.

    Tried in order: the last "The answer is: n", the last "#### n", the last ``\\boxed{n}``,
    then the last number in the text.
    """
    for pattern in (_ANSWER_IS, _HASHES):
        found = pattern.findall(text)
        if found:
            return normalize_number(found[-1])
    boxed = last_boxed(text)
    if boxed is not None:
        numbers = _ANY_NUMBER.findall(boxed)
        if numbers:
            return normalize_number(numbers[-1])
    numbers = _ANY_NUMBER.findall(text)
    return normalize_number(numbers[-1]) if numbers else None


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


_FRAC = re.compile(r"^(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}$")


def _as_fraction(text: str) -> Fraction | None:
    match = _FRAC.match(text)
    try:
        if match:
            value = Fraction(int(match.group(2)), int(match.group(3)))
            return -value if match.group(1) else value
        if re.fullmatch(r"-?\d+(?:\.\d+)?", text):
            return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None
    return None


def math_equal(prediction: str | None, reference: str) -> bool:
    """Whether two MATH answers agree after normalisation (numbers compared by value)."""
    if prediction is None:
        return False
    left, right = normalize_math_answer(prediction), normalize_math_answer(reference)
    if left == right:
        return True
    a, b = _as_fraction(left), _as_fraction(right)
    return a is not None and b is not None and a == b
