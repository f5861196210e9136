"""The exceptions archon-async raises, all rooted at `ArchonError`.

ArchonError
├── ConfigError                    a configuration problem, raised at load, before any call
├── InvalidInputError              a prompt or message list that cannot be sent
├── ProviderError                  a provider call failed (after the retries allowed)
│   ├── ProviderConnectionError
│   │   ├── ProviderTimeoutError
│   │   └── CircuitOpenError       the model keeps failing: calls to it stop for a while
│   ├── ProviderStatusError        the provider answered with an error status
│   │   ├── RateLimitError         429 / quota
│   │   │   └── RateLimitResetError  the limit resets later than a call may wait
│   │   ├── AuthenticationError    401 / 403
│   │   ├── BadRequestError        other 4xx that cannot succeed on retry
│   │   └── ProviderServerError    5xx
│   ├── MalformedResponseError     a reply that is empty or not in the wire format
│   ├── IncompleteReplyError       a reply without text, for a reason the provider gave
│   └── KeyPoolExhaustedError      every key of a provider is disabled
├── ComponentError                 a component could not do its job
│   └── OutputParseError           a model reply could not be parsed after the retries
├── BatchStoppedError              a batch stopped on a failure every prompt would meet
│   └── BatchBudgetExceededError   ... or on its budget (a BudgetExceededError too)
├── BudgetExceededError            a prompt would start past a configured budget
└── LayerFailedGroup               every component of a layer failed (an ExceptionGroup too,
                                   whose leaves say why)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._trace import LayerTrace, Trace
    from ._types import CallRecord  # _types imports this module: for the checker only

__all__ = [
    "ArchonError",
    "AuthenticationError",
    "BadRequestError",
    "BatchBudgetExceededError",
    "BatchStoppedError",
    "BudgetExceededError",
    "CircuitOpenError",
    "ComponentError",
    "ConfigError",
    "IncompleteReplyError",
    "InvalidInputError",
    "KeyPoolExhaustedError",
    "LayerFailedGroup",
    "MalformedResponseError",
    "OutputParseError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderServerError",
    "ProviderStatusError",
    "ProviderTimeoutError",
    "RateLimitError",
    "RateLimitResetError",
]


class ArchonError(Exception):
    """Base class of every error archon-async raises.

    Attributes:
        trace: for an error out of `Engine.generate`, what the run did before it failed
            (its calls count: they were made and paid for); None otherwise.
    """

    trace: Trace | None = None


class ConfigError(ArchonError, ValueError):
    """A configuration is invalid; raised at load time, before any provider call.

    Attributes:
        source: the file (or "<dict>") the configuration came from.
        location: where in it, e.g. ``layers[3][0].top_k`` or ``line 4, column 9``.
        cli_message: the same error worded for the command line (its options instead of
            Python arguments), when the wording differs; None otherwise.
        problems: when a file has several problems, each of them (the message lists them
            all); empty otherwise.
    """

    problems: tuple[ConfigError, ...] = ()

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        location: str | None = None,
        cli_hint: str | None = None,
    ):
        self.source = source
        self.location = location
        where = ", ".join(part for part in (source, location) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.cli_message: str | None = None
        if cli_hint is not None:
            self.cli_message = f"{where}: {cli_hint}" if where else cli_hint


class InvalidInputError(ArchonError, ValueError):
    """A prompt or message list is malformed; raised before any provider call."""


class ProviderError(ArchonError):
    """A call to an LLM provider failed.

    Attributes:
        call_record: the failed call as the trace keeps it (attempts made, last latency,
            error text), set by the engine on the error a call finally fails with, after at
            least one attempt; None otherwise.
        endpoint: where the call went (its base URL; the model_type for a provider with
            none), set by the engine on the error a call finally fails with; "" otherwise.
    """

    call_record: CallRecord | None = None
    endpoint: str = ""

    def __init__(self, message: str, *, provider: str = "", model: str = ""):
        self.provider = provider
        self.model = model
        prefix = f"{provider} {model}".strip()
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ProviderConnectionError(ProviderError):
    """The provider could not be reached, or the connection broke mid-call."""


class ProviderTimeoutError(ProviderConnectionError):
    """The provider did not answer in time."""


class CircuitOpenError(ProviderConnectionError):
    """A model failed several attempts in a row (timeouts, connection errors, 5xx): its
    calls fail at once, without a request, until a trial call after a pause succeeds.
    Not retried."""


class ProviderStatusError(ProviderError):
    """The provider answered with an error status code.

    Attributes:
        status_code: the HTTP status.
        request_id: the provider's id of the request, for its support.
        body: the reply's body (cut, and with the key redacted).
        retry_after: seconds the provider asked to wait, if it said.
        headers: what the reply said of rate limits (``x-ratelimit-*`` and the like).
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        model: str = "",
        status_code: int,
        request_id: str | None = None,
        body: str | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        self.status_code = status_code
        self.request_id = request_id
        self.body = body
        self.retry_after = retry_after
        self.headers = dict(headers or {})
        super().__init__(f"HTTP {status_code}: {message}", provider=provider, model=model)


class RateLimitError(ProviderStatusError):
    """The provider refused the call for rate or quota reasons (429)."""


class RateLimitResetError(RateLimitError):
    """A rate limit resets later than a call may wait (a Retry-After of an hour, a reply
    saying nothing is left until a reset far away): the call fails at once instead of
    waiting silently, and a batch stops, since every other prompt would meet it too.

    Attributes:
        retry_after: seconds until the limit resets.
    """


class AuthenticationError(ProviderStatusError):
    """The key was refused (401/403): check the key given for this provider."""


class BadRequestError(ProviderStatusError):
    """The provider rejected the request (4xx); retrying cannot help."""


class ProviderServerError(ProviderStatusError):
    """The provider failed on its side (5xx)."""


class MalformedResponseError(ProviderError):
    """The reply was empty or did not follow the provider's wire format."""


class IncompleteReplyError(ProviderError):
    """The provider ended a reply without text and said why: the output budget ran out
    (``finish_reason`` ``length``, Gemini ``MAX_TOKENS``: reasoning models can spend all of
    it thinking) or its filter blocked the reply (``content_filter``, ``SAFETY``, ...).
    The same request would get the same answer, so it is not retried.

    Attributes:
        finish_reason: the reason as the provider gave it.
        input_tokens: prompt tokens billed for the reply.
        output_tokens: completion tokens billed for the reply (reasoning included).
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        model: str = "",
        finish_reason: str,
        input_tokens: int = 0,
        output_tokens: int = 0,
    ):
        self.finish_reason = finish_reason
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        super().__init__(message, provider=provider, model=model)


class KeyPoolExhaustedError(ProviderError):
    """Every key of a provider is disabled (refused or out of quota)."""


class ComponentError(ArchonError):
    """A component could not produce its output."""


class OutputParseError(ComponentError):
    """A model reply could not be parsed into what the component needs."""

    def __init__(self, message: str, *, raw_output: str = ""):
        self.raw_output = raw_output
        super().__init__(message)


class BatchStoppedError(ArchonError):
    """A batch stopped early on a failure every prompt would meet (a refused key, no key
    left, a configuration problem); rerun it after the fix to go on where it stopped.

    Attributes:
        stats: the batch's counters when it stopped (a ``BatchStats``: answered, failed,
            skipped, calls...), or None.
        not_started: prompts that did not start (the rerun answers them).
        reason: what stopped it, in a few words (the failure, or the budget's cap).
        provider_down: ``"model_type model"`` of the model whose provider stayed down (its
            circuit open) past the batch's wait, when that stopped it; else "".
    """

    stats: Any = None
    not_started: int = 0
    reason: str = ""
    provider_down: str = ""


class BudgetExceededError(ArchonError):
    """Running on would exceed a configured budget of calls, tokens or cost.

    Attributes:
        budget: the ``Budget`` whose cap is reached (``budget.spent()`` says how much was
            spent), or None.
    """

    budget: Any = None


class BatchBudgetExceededError(BatchStoppedError, BudgetExceededError):
    """A budget stopped a batch: no new prompt started once a cap was reached, the prompts
    in flight finished. A new run with room in its budget answers the prompts not started
    (finished ones are not asked again)."""


class LayerFailedGroup(ExceptionGroup[ArchonError], ArchonError):
    """Every branch of a layer failed; the leaves say why.

    It is an `ArchonError` too, so that ``except ArchonError`` catches everything the
    library raises, and an ``ExceptionGroup``, so that ``except*`` can pick its leaves.

    Attributes:
        layer_trace: the failed layer's trace (its components' errors and calls).
    """

    layer_trace: LayerTrace | None = None

    def __str__(self) -> str:
        # ExceptionGroup's own text ("... (3 sub-exceptions)") hides why: name the first.
        first = self.exceptions[0]
        more = len(self.exceptions) - 1
        also = f" (and {more} more)" if more else ""
        return f"{self.message}: {type(first).__name__}: {first}{also}"
