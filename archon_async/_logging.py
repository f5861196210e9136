"""The library's loggers: events go to the standard `logging` module, never to stdout.

structlog left unconfigured prints every event to standard output, which is an embedding
application's own output. So a library logger here sends its events to the stdlib logger of
the same name (``archon_async.*``, which has a `logging.NullHandler`: nothing shows until the
application configures logging), unless the application configured structlog itself, in
which case the events take that configuration (``structlog.testing.capture_logs`` included).
Each stdlib record's message reads ``event key=value ...``; the fields are also on the record
as ``record.archon_fields`` (and the event name as ``record.archon_event``) for structured
handlers.

structlog is never imported here: an application that configured it has imported it, so
where it is not loaded the events go to the stdlib logger, and a run's context (its
architecture's name, `bind_log_context`) is kept in a context variable of ours. Importing
structlog was a twentieth of the command's start-up (bench/RESULTS.md, issue 12).
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import Any

__all__ = ["LibraryLogger", "bind_log_context", "get_logger", "reset_log_context"]

#: A run's log context while structlog is not loaded (read by the stdlib path below).
_CONTEXT: ContextVar[MappingProxyType[str, Any]] = ContextVar(
    "archon_async_log_context", default=MappingProxyType({})
)


def _structlog() -> Any:
    """structlog if anything imported it (the application, to configure it), else None."""
    return sys.modules.get("structlog")


#: The fields `bind_log_context` bound last in this context: a run inside a batch worker,
#: which bound the same fields once for all its prompts, binds nothing again.
_BOUND: ContextVar[dict[str, Any] | None] = ContextVar("archon_async_log_bound", default=None)


def bind_log_context(**fields: Any) -> Any:
    """Add ``fields`` to the context of every event logged until `reset_log_context`: in
    structlog's context variables when structlog is loaded (an application's
    ``merge_contextvars`` sees them), in ours otherwise. Returns what to reset (None when
    this context has them bound already, by an outer `bind_log_context`)."""
    if _BOUND.get() == fields:
        return None
    structlog = _structlog()
    if structlog is not None:
        inner = structlog.contextvars.bind_contextvars(**fields)
    else:
        inner = _CONTEXT.set(MappingProxyType({**_CONTEXT.get(), **fields}))
    return _BOUND.set(fields), inner


def reset_log_context(bound: Any) -> None:
    """Undo a `bind_log_context` (its return value)."""
    if bound is None:
        return
    outer, inner = bound
    if isinstance(inner, Token):
        _CONTEXT.reset(inner)
    else:
        _structlog().contextvars.reset_contextvars(**inner)
    _BOUND.reset(outer)


class LibraryLogger:
    """A logger with structlog's calling style (``log.info("event", key=value)``)."""

    __slots__ = ("_level_check", "_name", "_stdlib", "_structlog")

    def __init__(self, name: str) -> None:
        self._name = name
        self._stdlib = logging.getLogger(name)
        self._structlog: Any = None  # structlog's logger, made when first configured
        # Its level check, once structlog has cached the logger behind it for good.
        self._level_check: Any = None

    def _configured(self) -> Any:
        """structlog's logger of this name when the application configured structlog."""
        structlog = _structlog()
        if structlog is None or not structlog.is_configured():
            return None
        if self._structlog is None:
            self._structlog = structlog.get_logger(self._name)
        return self._structlog

    def enabled_for(self, level: int) -> bool:
        """Whether an event of ``level`` would go anywhere (cheap: for hot paths)."""
        configured = self._configured()
        if configured is None:
            return self._stdlib.isEnabledFor(level)
        # The application's structlog decides: its filtering loggers (the default wrapper
        # class included) know their level; a wrapper that cannot tell gets every event.
        check = self._level_check
        if check is None:
            check = getattr(configured, "is_enabled_for", None)  # the lazy proxy builds a logger
            if check is None:
                return True
            if "bind" in getattr(configured, "__dict__", ()):
                # cache_logger_on_first_use: the proxy hands back this same logger from now
                # on (its events too, in `_emit`), so its check is kept, not rebuilt per call.
                self._level_check = check
        return bool(check(level))

    def debug(self, event: str, **fields: Any) -> None:
        """Log at DEBUG."""
        self._emit(logging.DEBUG, "debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        """Log at INFO."""
        self._emit(logging.INFO, "info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        """Log at WARNING."""
        self._emit(logging.WARNING, "warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        """Log at ERROR."""
        self._emit(logging.ERROR, "error", event, fields)

    def _emit(self, level: int, method: str, event: str, fields: dict[str, Any]) -> None:
        configured = self._configured()
        if configured is not None:
            # A context bound before structlog was loaded goes with the event.
            getattr(configured, method)(event, **{**_CONTEXT.get(), **fields})
            return
        if not self._stdlib.isEnabledFor(level):
            return
        structlog = _structlog()
        context = structlog.contextvars.get_contextvars() if structlog is not None else {}
        merged = {**_CONTEXT.get(), **context, **fields}
        text = " ".join([event, *(f"{key}={value!r}" for key, value in merged.items())])
        self._stdlib.log(
            level,
            "%s",
            text,
            extra={"archon_event": event, "archon_fields": merged},
            stacklevel=3,
        )


def get_logger(name: str) -> LibraryLogger:
    """The library logger of a module (``get_logger(__name__)``)."""
    return LibraryLogger(name)


# The stdlib convention for libraries: records go nowhere until the application says where.
logging.getLogger("archon_async").addHandler(logging.NullHandler())
