"""The unit test generator: checks that a correct answer to the query must pass.

One call asks for tests in the format of `formats.render_unit_tests` (``Unit Test #1: ...``
one per line). The parser also accepts what models write instead: a Python list literal
of strings (the format Archon's own prompt asked for), a numbered list, or bullet lines.
Every test is kept, as in Archon, unless ``unit_test_cap`` is set: then at most that many
are kept, and fewer are accepted and noted as ``unit_tests_below_cap`` (Archon re-asks
until the count is exact, which costs calls for little gain).

A copy of the prompt's example is not a test: the example's lines are placeholders in
angle brackets, and a test that is only a placeholder (``<...>``) or a phrase left open
(``The answer states ...``) is dropped (noted as ``unit_test_placeholders_dropped``). A
reply with no test left is asked again up to `PARSE_RETRIES` more times (noted as
``unit_test_parse_retry``), except a reply cut at ``max_tokens``, which would be cut again.

When no reply holds a test, the layer goes on without tests rather than failing the run:
the generator writes nothing and notes ``unit_tests_unparsable`` (with the last reply,
whether it was cut at ``max_tokens`` and what to raise). An evaluator that then finds no
tests passes its candidates on (see `components.unit_test_evaluator`).

Writes ``unit_tests`` only; the candidates pass on unchanged, as in Archon. Archon also
appends the tests to the user's query for every later component, the ones after it in
the same layer included (``Your response should pass the following unit tests: ...``);
the engine and `_common.effective_conversation` rebuild that query, so they see the same
text.
"""

from __future__ import annotations

import ast
import re

from archon_async.core import ComponentContext, ComponentSpec, State, StateUpdate

from ._common import (
    ask_parsed,
    effective_conversation,
    prompt_messages,
    query_of,
    record,
    truncation_hint,
)
from .prompts import UNIT_TEST_GENERATOR_SYSTEM, unit_test_generator_prompt

__all__ = ["UnitTestGenerator", "is_placeholder", "parse_unit_tests"]

_DECORATION = re.compile(r"[*_`]")
_HEADED = re.compile(
    r"^[ \t>#-]*unit[ \t]*test[ \t]*#?[ \t]*\d+[ \t]*[:.)-][ \t]*(.+)$", re.I | re.M
)
_NUMBERED = re.compile(r"^[ \t]*\d+[ \t]*[.)][ \t]+(.+)$", re.M)
_BULLET = re.compile(r"^[ \t]*[-*•][ \t]+(.+)$", re.M)
_LIST_LITERAL = re.compile(r"\[.*\]", re.S)
# A placeholder: "<a checkable statement>", or a phrase left open ("The answer states ...").
_ANGLED = re.compile(r"^<[^<>\n]*>[.]?$")
_OPEN_PHRASE = re.compile(r"^(?:\S+\s+){0,3}\S+\s*(?:\.\.\.|\u2026)$")


def is_placeholder(test: str) -> bool:
    """Whether a test is a template's placeholder rather than a test: ``<...>`` or a
    phrase of at most four words left open with an ellipsis (``The answer states ...``)."""
    text = test.strip()
    return bool(_ANGLED.match(text) or _OPEN_PHRASE.match(text))


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
    """Writes ``unit_tests``: the parsed tests (at most ``unit_test_cap`` when it is set),
    or nothing when no reply held a test.

    Args:
        spec: the component's configuration.
    """

    def __init__(self, spec: ComponentSpec) -> None:
        self.spec = spec

    async def run(self, ctx: ComponentContext, state: State) -> StateUpdate:
        """Ask for unit tests for the query.

        Raises:
            ProviderError: a call failed.
        """
        conversation = effective_conversation(ctx.conversation, state)
        prompt = unit_test_generator_prompt(query_of(conversation).strip(), self.spec.unit_test_cap)
        messages = prompt_messages(UNIT_TEST_GENERATOR_SYSTEM, conversation, prompt)
        dropped: list[str] = []

        def parse(reply: str) -> list[str] | None:
            tests = parse_unit_tests(reply)
            dropped.extend(test for test in tests if is_placeholder(test))
            return [test for test in tests if not is_placeholder(test)] or None

        parsed = await ask_parsed(
            ctx, self.spec, messages, parse, retry_event="unit_test_parse_retry"
        )
        if dropped:
            record(ctx, "unit_test_placeholders_dropped", placeholders=dropped)
        if parsed.value is None:
            reason = truncation_hint(self.spec) if parsed.truncated else "no reply held a unit test"
            record(
                ctx,
                "unit_tests_unparsable",
                attempts=parsed.attempts,
                truncated=parsed.truncated,
                reason=f"{reason}; the layers go on without unit tests",
                raw=parsed.raw,
            )
            return {}
        tests = parsed.value
        cap = self.spec.unit_test_cap
        if cap is not None and len(tests) < cap:
            record(ctx, "unit_tests_below_cap", got=len(tests), cap=cap)
        return {"unit_tests": tests[:cap] if cap is not None else tests}
