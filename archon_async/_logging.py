"""The library's loggers: events go to the standard `logging` module, never to stdout.

structlog left unconfigured prints every event to standard output, which is an embedding
application's own output. So a library logger here sends its events to the stdlib logger of
the same name (``archon_async.*``, which has a `logging.NullHandler`: nothing shows until the
application configures logging), unless the application configured structlog itself, in
which case the events take that configuration (``structlog.testing.capture_logs`` included).
Each stdlib record's message reads ``event key=value ...``; the fields are also on the record
as ``record.archon_fields`` (and the event name as ``record.archon_event``) for structured
handlers.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog

__all__ = ["LibraryLogger", "get_logger"]


class LibraryLogger:
    """A logger with structlog's calling style (``log.info("event", key=value)``)."""

    __slots__ = ("_name", "_stdlib", "_structlog")

    def __init__(self, name: str) -> None:
        self._name = name
        self._stdlib = logging.getLogger(name)
        self._structlog: Any = structlog.get_logger(name)

    def enabled_for(self, level: int) -> bool:
        """Whether an event of ``level`` would go anywhere (cheap: for hot paths)."""
        if not structlog.is_configured():
            return self._stdlib.isEnabledFor(level)
        # The application's structlog decides: its filtering loggers (the default wrapper
        # class included) know their level; a wrapper that cannot tell gets every event.
        check = getattr(self._structlog, "is_enabled_for", None)
        return True if check is None else bool(check(level))

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
        if structlog.is_configured():
            getattr(self._structlog, method)(event, **fields)
            return
        if not self._stdlib.isEnabledFor(level):
            return
        merged = {**structlog.contextvars.get_contextvars(), **fields}
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
