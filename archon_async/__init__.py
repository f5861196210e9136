"""archon-async: Archon inference-time architectures on an asyncio-native engine.

    import asyncio

    from archon_async import Architecture, Engine

    async def main() -> None:
        architecture = Architecture.from_name("default")
        async with Engine(architecture, simulate=True) as engine:
            result = await engine.generate("What is 17 * 23?")
        print(result.text, result.trace.totals())

    asyncio.run(main())

(the same as examples/quickstart.py, which the tests run).
"""

from __future__ import annotations

# First, before the imports a Ctrl-C can interrupt: in the command's process, its start-up
# handler (one line, exit status 130; see _cli_start).
from . import _cli_start  # installs it as it is imported

# isort: split
import gc as _gc
import typing as _typing

# The imports below make some 20,000 objects that live as long as the process, and the
# collections their allocations set off (57 young and 6 middle ones) walk them for a few
# hundred cycles: a tenth of the command's start-up (bench/RESULTS.md, issue 12). The
# collector waits until they are done, and runs as the importer had it after.
_collecting = _gc.isenabled()
_gc.disable()
try:
    from ._architecture import Architecture as Architecture
    from ._config import ComponentSpec as ComponentSpec
    from ._config import ConfigWarning as ConfigWarning
    from ._config import ProviderSettings as ProviderSettings
    from ._engine import Engine as Engine
    from ._exceptions import ArchonError as ArchonError
    from ._exceptions import AuthenticationError as AuthenticationError
    from ._exceptions import BadRequestError as BadRequestError
    from ._exceptions import BatchBudgetExceededError as BatchBudgetExceededError
    from ._exceptions import BatchStoppedError as BatchStoppedError
    from ._exceptions import BudgetExceededError as BudgetExceededError
    from ._exceptions import CircuitOpenError as CircuitOpenError
    from ._exceptions import ComponentError as ComponentError
    from ._exceptions import ConfigError as ConfigError
    from ._exceptions import IncompleteReplyError as IncompleteReplyError
    from ._exceptions import InvalidInputError as InvalidInputError
    from ._exceptions import KeyPoolExhaustedError as KeyPoolExhaustedError
    from ._exceptions import LayerFailedGroup as LayerFailedGroup
    from ._exceptions import MalformedResponseError as MalformedResponseError
    from ._exceptions import OutputParseError as OutputParseError
    from ._exceptions import ProviderConnectionError as ProviderConnectionError
    from ._exceptions import ProviderError as ProviderError
    from ._exceptions import ProviderServerError as ProviderServerError
    from ._exceptions import ProviderStatusError as ProviderStatusError
    from ._exceptions import ProviderTimeoutError as ProviderTimeoutError
    from ._exceptions import RateLimitError as RateLimitError
    from ._exceptions import RateLimitResetError as RateLimitResetError
    from ._registry import Registry as Registry
    from ._streaming import AnswerStream as AnswerStream
    from ._streaming import StreamChunk as StreamChunk
    from ._trace import Result as Result
    from ._trace import Trace as Trace
    from ._types import ChatRequest as ChatRequest
    from ._types import ChatResponse as ChatResponse
    from .callpath import Budget as Budget
    from .callpath import CallPath as CallPath
    from .callpath import ResponseCache as ResponseCache
finally:
    # In the command's process it stays off until the command has frozen these objects
    # (see _cli_start.hold_collector): turned on here, its next collection walks them all.
    if _collecting and not _cli_start.hold_collector():
        _gc.enable()

if _typing.TYPE_CHECKING:
    __version__: str
else:

    def __getattr__(name: str) -> str:
        # Read from the installed metadata when first asked for (a look through the
        # installed distributions): a command that never prints it never pays for it.
        if name != "__version__":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("archon-async")
        except PackageNotFoundError:  # running from a source tree that is not installed
            found = "0.0.0"
        globals()["__version__"] = found
        return found


__all__ = [
    "AnswerStream",
    "Architecture",
    "ArchonError",
    "AuthenticationError",
    "BadRequestError",
    "BatchBudgetExceededError",
    "BatchStoppedError",
    "Budget",
    "BudgetExceededError",
    "CallPath",
    "ChatRequest",
    "ChatResponse",
    "CircuitOpenError",
    "ComponentError",
    "ComponentSpec",
    "ConfigError",
    "ConfigWarning",
    "Engine",
    "IncompleteReplyError",
    "InvalidInputError",
    "KeyPoolExhaustedError",
    "LayerFailedGroup",
    "MalformedResponseError",
    "OutputParseError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderServerError",
    "ProviderSettings",
    "ProviderStatusError",
    "ProviderTimeoutError",
    "RateLimitError",
    "RateLimitResetError",
    "Registry",
    "ResponseCache",
    "Result",
    "StreamChunk",
    "Trace",
    "__version__",
]
