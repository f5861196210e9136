"""The unit test generator: checks that a correct answer to the query must pass.

One call asks for tests in the format of `formats.render_unit_tests` (``Unit Test #1: ...``
one per line). The parser also accepts what models write instead: a Python list literal
of strings (the format Archon's own prompt asked for), a numbered list, or bullet lines.
At most ``unit_test_cap`` tests are kept (`DEFAULT_UNIT_TEST_CAP` when unset); fewer than
an explicit cap are accepted and noted as ``unit_tests_below_cap`` (Archon re-asks until
the count is exact, which costs calls for little gain).

A reply with no tests is asked again up to `PARSE_RETRIES` more times (noted as
``unit_test_parse_retry``); then `OutputParseError` is raised with the last raw reply.

Writes ``unit_tests`` only; the candidates pass on unchanged, as in Archon. Archon also
appends the tests to the user's query for every later layer (``Your response should pass
the following unit tests: ...``); the components here rebuild that query from the
``unit_tests`` state key, so later layers see the same text.
"""

from __future__ import annotations

import ast
import re

from archon_async.core import (
    ComponentContext,
    ComponentSpec,
    OutputParseError,
    State,
    StateUpdate,
)

from ._common import (
    PARSE_RETRIES,
    complete_text,
    effective_conversation,
    prompt_messages,
    query_of,
    record,
)
from .prompts import UNIT_TEST_GENERATOR_SYSTEM, unit_test_generator_prompt

__all__ = ["DEFAULT_UNIT_TEST_CAP", "UnitTestGenerator", "parse_unit_tests"]

#: Tests kept when ``unit_test_cap`` is not set.
DEFAULT_UNIT_TEST_CAP = 10

_DECORATION = re.compile(r"[*_`]")
_HEADED = re.compile(
    r"^[ \t>#-]*unit[ \t]*test[ \t]*#?[ \t]*\d+[ \t]*[:.)-][ \t]*(.+)$", re.I | re.M
)
_NUMBERED = re.compile(r"^[ \t]*\d+[ \t]*[.)][ \t]+(.+)$", re.M)
_BULLET = re.compile(r"^[ \t]*[-*•][ \t]+(.+)$", re.M)
_LIST_LITERAL = re.compile(r"\[.*\]", re.S)


def _clean(item: str) -> str:
    return item.strip().strip("\"'").strip()


def _list_literal(reply: str) -> list[str]:
    match = _LIST_LITERAL.search(reply)
    if match is None:
        return []
    try:
        value = ast.literal_eval(match.group(0))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return []
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    return []


def parse_unit_tests(reply: str) -> list[str]:
    """The unit tests in a reply, in order; empty when there are none.

    Tried in turn: ``Unit Test #k: ...`` lines, a Python list literal of strings, a
    numbered list, bullet lines.
    """
    headed = [_clean(t) for t in _HEADED.findall(_DECORATION.sub("", reply))]
    if any(headed):
        return [t for t in headed if t]
    literal = _list_literal(reply)
    if literal:
        return literal
    for pattern in (_NUMBERED, _BULLET):
        items = [_clean(t) for t in pattern.findall(reply)]
        if any(items):
            return [t for t in items if t]
    return []


class UnitTestGenerator:
    """Writes ``unit_tests``: the parsed tests, at most ``unit_test_cap``.

    Args:
        spec: the component's configuration.
    """

    def __init__(self, spec: ComponentSpec) -> None:
        self.spec = spec
        self.cap = spec.unit_test_cap or DEFAULT_UNIT_TEST_CAP

    async def run(self, ctx: ComponentContext, state: State) -> StateUpdate:
        """Ask for unit tests for the query.

        Raises:
            OutputParseError: no reply held a test after the retries.
            ProviderError: a call failed.
        """
        conversation = effective_conversation(ctx.conversation, state)
        prompt = unit_test_generator_prompt(query_of(conversation).strip(), self.spec.unit_test_cap)
        messages = prompt_messages(UNIT_TEST_GENERATOR_SYSTEM, conversation, prompt)
        reply = ""
        for attempt in range(1 + PARSE_RETRIES):
            if attempt:
                record(ctx, "unit_test_parse_retry", attempt=attempt, raw=reply)
            reply = await complete_text(ctx, self.spec, messages)
            tests = parse_unit_tests(reply)
            if tests:
                wanted = self.spec.unit_test_cap
                if wanted is not None and len(tests) < wanted:
                    record(ctx, "unit_tests_below_cap", got=len(tests), cap=wanted)
                return {"unit_tests": tests[: self.cap]}
        raise OutputParseError(
            f"the unit test generator's replies held no unit tests in {1 + PARSE_RETRIES} attempts",
            raw_output=reply,
        )
