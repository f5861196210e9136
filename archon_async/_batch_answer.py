"""One prompt of a batch answered: its attempts and turns, the line written for it (what it
spent, its error), and which failures every other prompt would meet too."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._admission import current_ticket, next_ticket
from ._batch_io import BatchItem
from ._batch_outage import down_model
from ._circuit import CircuitKey
from ._exceptions import (
    ArchonError,
    AuthenticationError,
    BudgetExceededError,
    ConfigError,
    KeyPoolExhaustedError,
    ProviderStatusError,
    RateLimitResetError,
)
from ._logging import get_logger
from ._progress import BatchStats
from ._trace import call_sink
from ._types import CallRecord, Message
from .callpath import Budget

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["answer_item", "budget_cause", "describe_error", "is_fatal"]

log = get_logger(__name__)


def budget_cause(exc: BaseException) -> BudgetExceededError | None:
    """The `BudgetExceededError` behind a failure (inside a layer's group, or the cause of a
    component's error), or None."""
    if isinstance(exc, BudgetExceededError):
        return exc
    inner: list[BaseException] = list(exc.exceptions) if isinstance(exc, BaseExceptionGroup) else []
    if exc.__cause__ is not None:
        inner.append(exc.__cause__)
    for each in inner:
        found = budget_cause(each)
        if found is not None:
            return found
    return None


async def answer_item(
    engine: Engine,
    item: BatchItem,
    *,
    attempts: int = 1,
    stats: BatchStats | None = None,
    budget: Budget | None = None,
    calls: list[CallRecord] | None = None,
    down: list[CircuitKey] | None = None,
) -> dict[str, Any]:
    """Answer one item; never raises for a provider or model failure: the line says it.

    The line counts the calls and tokens of every attempt, failed ones included: they were
    paid for. A failure every prompt would meet (see `is_fatal`) is not attempted again and
    is marked ``"fatal": true``. Given ``down``, a failure only because a model's provider
    is down (its circuit open, by other prompts' failures too: `down_model`) is not
    attempted again either, and that
    circuit (model_type, endpoint, model) is appended to it.

    Raises:
        BudgetExceededError: a budget is spent: the prompt did not start (or a later turn
            did not); nothing is written for it.
    """
    started = time.perf_counter()
    spent: list[CallRecord] = [] if calls is None else calls  # each call as it ends
    error: str | None = None
    fatal = False
    # Every turn and attempt of this prompt keeps the prompt's place in the queue; every
    # call it makes lands in ``spent`` as it ends, so that a run cut short still counts.
    mine = next_ticket()
    ticket = current_ticket.set(mine)
    sink = call_sink.set(spent)
    try:
        for attempt in range(1, attempts + 1):
            try:
                if item.turns:
                    answers = await _answer_turns(engine, item)
                else:  # awaited here: a coroutine level less on every loop turn of a call
                    answers = [(await engine.generate(item.messages, draw=item.draw)).text]
            except BudgetExceededError:
                raise  # not the prompt's failure: it is left for a run with a larger budget
            except (ArchonError, ExceptionGroup) as exc:
                error, fatal = _failed_attempt(exc, item, attempt)
                if fatal:
                    break
                if down is not None:
                    dispatcher = engine.dispatcher
                    model = down_model(
                        exc, dispatcher.circuit_reopens_in, dispatcher.circuit_culprits, mine
                    )
                    if model is not None:
                        down.append(model)
                        break
                continue
            line: dict[str, Any] = {"id": item.output_id, "answer": answers[-1]}
            if item.turns:
                line["turns"] = answers
            return _ended(line, item, spent, started, attempt)
    finally:
        call_sink.reset(sink)
        current_ticket.reset(ticket)
        if stats is not None:
            stats.add_calls(spent)
        if budget is not None:
            budget.charge_all(spent)
    line = {"id": item.output_id, "error": error}
    if fatal:
        line["fatal"] = True
    return _ended(line, item, spent, started, attempt)


def _failed_attempt(
    exc: ArchonError | ExceptionGroup[Exception], item: BatchItem, attempt: int
) -> tuple[str, bool]:
    """A failed attempt at a prompt, logged: its error line's text, and whether the
    failure is one every prompt would meet (no other attempt then).

    Raises:
        BudgetExceededError: a layer failed because the budget refused its calls.
    """
    spent_budget = budget_cause(exc)
    if spent_budget is not None:
        raise spent_budget from None
    error = describe_error(exc)
    log.warning("prompt_failed", id=item.id, attempt=attempt, error=error)
    return error, is_fatal(exc)


def _ended(
    line: dict[str, Any], item: BatchItem, calls: list[CallRecord], started: float, attempts: int
) -> dict[str, Any]:
    """``line`` (its id and answer or error) completed in place with what the prompt
    spent, its latency, attempts and metadata: one dict a prompt, no merged copies."""
    _add_spending(line, calls)
    line["latency_s"] = round(time.perf_counter() - started, 4)
    line["attempts"] = attempts
    if item.metadata:
        line["metadata"] = dict(item.metadata)
    return line


def _add_spending(line: dict[str, Any], calls: list[CallRecord]) -> None:
    # One pass over the prompt's calls (a cached rerun's line is mostly this).
    hits = retries = timeouts = tokens_in = tokens_out = 0
    for call in calls:
        hits += call.cached
        # Attempts resent after a failure, and how many of them timed out (a busy
        # server's queue shows here first): written when there were any.
        retries += call.retries
        timeouts += call.timeouts
        tokens_in += call.input_tokens
        tokens_out += call.output_tokens
    line["calls"] = len(calls) - hits
    line["input_tokens"] = tokens_in
    line["output_tokens"] = tokens_out
    if hits:
        line["cache_hits"] = hits
    if retries:
        line["retries"] = retries
    if timeouts:
        line["timeouts"] = timeouts


#: Failures that every other prompt of the batch would meet as well.
_FATAL = (AuthenticationError, KeyPoolExhaustedError, ConfigError, RateLimitResetError)
# No access to the model (403) or no such model (404): the same for every prompt.
_FATAL_STATUS = (403, 404)


def is_fatal(exc: BaseException) -> bool:
    """Whether a failure would repeat for every prompt (a refused key, no key left, no such
    model, a bad configuration), so that running on would only write the same error again."""
    if isinstance(exc, BaseExceptionGroup):
        return all(is_fatal(leaf) for leaf in exc.exceptions)
    if isinstance(exc, ProviderStatusError) and exc.status_code in _FATAL_STATUS:
        return True
    return isinstance(exc, _FATAL)


def describe_error(exc: BaseException) -> str:
    """A one-line account of a failure: the type and message, and a group's first leaf."""
    if isinstance(exc, BaseExceptionGroup):
        leaf = exc.exceptions[0]
        more = f" (and {len(exc.exceptions) - 1} more)" if len(exc.exceptions) > 1 else ""
        return f"{exc.message}: {describe_error(leaf)}{more}"
    return f"{type(exc).__name__}: {exc}"


async def _answer_turns(engine: Engine, item: BatchItem) -> list[str]:
    """Answer the item's turns, one after another (their calls reach the prompt's bill
    through `call_sink`)."""
    conversation: list[Mapping[str, Any]] = list(item.messages)
    answers = []
    for turn in item.turns:
        conversation.append(Message(role="user", content=turn))
        result = await engine.generate(conversation, draw=item.draw)
        conversation.append(Message(role="assistant", content=result.text))
        answers.append(result.text)
    return answers
