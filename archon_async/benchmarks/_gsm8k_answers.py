"""GSM8K's final answer: which number of a reply is the answer, and whether it is right.

The extraction follows GSM8K's own protocol (Cobbe et al. 2021, and the answer format of
its reference solutions): the final ``#### n`` line wins; otherwise the reply's last stated
answer ("The answer is n", "Answer: n"), then its last ``\\boxed{}``, then the last number
of its final statement. Within a statement the number after its last ``=`` is the result
(``Answer: 12 + 24 = 36`` gives 36). Thousands separators (``9,500``, LaTeX's
``9{,}500`` and ``9,\\!500``), currency signs, bold marks and trailing zeros do not
matter; equality of the numbers is decided by Math-Verify (`latex_equal`).
"""

from __future__ import annotations

import re

from ._equivalence import latex_equal

__all__ = ["extract_gsm8k_answer", "gsm8k_equal", "normalize_number"]

# A number: thousands groups of exactly three digits, or plain digits; decimals; a simple
# fraction. A minus counts only where it cannot be a subtraction ("16-3" is not "-3").
_NUMBER = re.compile(
    r"(?<![\w.)])(-)?(?:(\d{1,3}(?:,\d{3})+)|(\d+))(\.\d+)?(?:/(\d+)(?![\d.]))?(?![\d])"
)
_STATED = re.compile(
    r"\banswer\b(?:\s*\**\s*)(?:is|would be|will be|should be|[:=])\s*:?(.*)", re.IGNORECASE
)
# LaTeX and Markdown around numbers that a reader ignores.
_NOISE = (
    ("{,}", ","),
    (",\\!", ","),
    ("\\!", ""),
    ("\\,", ""),
    ("\\$", "$"),
    ("\u2212", "-"),  # the Unicode minus sign
    ("**", ""),
)


def _clean(text: str) -> str:
    for before, after in _NOISE:
        text = text.replace(before, after)
    return re.sub(r"\\(?:text|textbf|mathbf|mathrm)\{([^{}]*)\}", r"\1", text)


def normalize_number(text: str) -> str:
    """``"$1,234.50"`` -> ``"1234.5"``: drops $, commas, spaces, leading zeros and trailing
    zeros/dots (an empty or non-numeric text is returned cleaned, not raised on)."""
    cleaned = _clean(text).replace(",", "").replace("$", "").replace(" ", "").rstrip(".")
    if "." in cleaned:
        cleaned = cleaned.rstrip("0").rstrip(".")
    sign = "-" if cleaned.startswith("-") else ""
    digits = cleaned.lstrip("-")
    if digits.lstrip("0")[:1].isdigit():  # "05" is 5; "0.5" keeps its zero
        digits = digits.lstrip("0")
    return "0" if sign + digits == "-0" else sign + digits


def _numbers(text: str) -> list[str]:
    found = []
    for match in _NUMBER.finditer(text):
        sign, grouped, plain, decimals, denominator = match.groups()
        value = (sign or "") + (grouped or plain).replace(",", "") + (decimals or "")
        found.append(normalize_number(value + (f"/{denominator}" if denominator else "")))
    return found


def _result_of(statement: str, *, last: bool) -> str | None:
    """The number a statement gives: the first after its last ``=``, else its first (or,
    with ``last``, its last) number."""
    if "=" in statement:
        after = _numbers(statement.rsplit("=", 1)[1])
        if after:
            return after[0]
    numbers = _numbers(statement)
    if not numbers:
        return None
    return numbers[-1] if last else numbers[0]


_WORD_VALUES = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen".split()
    )
} | {
    word: 10 * tens
    for tens, word in enumerate(
        "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2
    )
}
_SCALES = {"thousand": 1_000, "million": 1_000_000}


def _spelled(statement: str) -> str | None:
    """A number written in words at the start of a statement ("The answer is ten.",
    "twenty-five", "one thousand two hundred"), or None."""
    words = re.findall(r"[a-z]+", statement.lower().split(".")[0])
    total, current, seen = 0, 0, False
    for word in words:
        if word in _WORD_VALUES:
            current += _WORD_VALUES[word]
        elif word == "hundred" and seen:
            current *= 100
        elif word in _SCALES and seen:
            total, current = total + current * _SCALES[word], 0
        elif word != "and" or not seen:
            break
        seen = True
    return str(total + current) if seen else None


def _stated(text: str) -> str | None:
    """The number of the last "the answer is ..." statement (its line, or the next one)."""
    matches = list(_STATED.finditer(text))
    for match in reversed(matches):
        found = _result_of(match.group(1), last=False)
        if found is None:
            found = _spelled(match.group(1))
        if found is None and not match.group(1).strip():
            # "The answer is:" with the number on the next line.
            rest = [line for line in text[match.end() :].splitlines() if line.strip()]
            found = _result_of(rest[0], last=False) if rest else None
        if found is not None:
            return found
    return None


def extract_gsm8k_answer(text: str) -> str | None:
    """The final number of a GSM8K reply, normalised (``"9500"``, ``"-3.5"``), or None.

    Tried in order: the last ``#### n`` line; the last stated answer ("The answer is n",
    "Answer: n"); the last ``\\boxed{n}``; the last number of the final statement that has
    one. See the module docstring for the rules.
    """
    from ._math_answers import last_boxed

    text = _clean(text)
    if "####" in text:  # the final "#### n" (its line)
        return _result_of(text.rsplit("####", 1)[1].split("\n", 1)[0], last=False)
    stated = _stated(text)
    if stated is not None:
        return stated
    boxed = last_boxed(text)
    if boxed is not None:
        return _result_of(boxed, last=False)
    lines = [line for line in text.splitlines() if _numbers(line)]
    return _result_of(lines[-1], last=True) if lines else None


def gsm8k_equal(prediction: str | None, reference: str) -> bool:
    """Whether an extracted GSM8K answer equals the reference number (by value)."""
    if prediction is None:
        return False
    return latex_equal(normalize_number(reference), prediction)
