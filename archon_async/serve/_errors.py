"""Errors as OpenAI's API writes them: ``{"error": {"message", "type", "param", "code"}}``.

Statuses follow OpenAI's where it has one (400 bad request, 401 missing or wrong key, 404
unknown model, 429 too many requests); 413 is a body over the limit, 500 a failure of the
architecture itself, 502 a provider that failed after the engine's retries. Messages never
carry a provider key: provider errors are built without it (bodies are redacted before
they are kept), and the server adds only its own wording.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from .._exceptions import (
    ArchonError,
    ComponentError,
    ConfigError,
    InvalidInputError,
    LayerFailedGroup,
    ProviderError,
)
from .._logging import get_logger

__all__ = ["ServeError", "error_body", "error_response", "from_exception"]

log = get_logger(__name__)


class ServeError(Exception):
    """A request the server answers with an error status, in OpenAI's shape.

    Args:
        status: the HTTP status.
        message: what went wrong and what to do.
        type: OpenAI's error ``type`` (``invalid_request_error``, ``server_error``, ...).
        code: OpenAI's error ``code``, if any (``invalid_api_key``, ``model_not_found``).
        param: the request field at fault, if any.
        headers: extra response headers (``www-authenticate`` for a 401).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = dict(headers or {})


def error_body(error: ServeError) -> dict[str, Any]:
    """The JSON body of an error, as OpenAI's API sends it."""
    return {
        "error": {
            "message": error.message,
            "type": error.type,
            "param": error.param,
            "code": error.code,
        }
    }


def error_response(error: ServeError, headers: dict[str, str] | None = None) -> Response:
    """An error as a JSON response with its status."""
    return Response(
        orjson.dumps(error_body(error)),
        status_code=error.status,
        media_type="application/json",
        headers={**error.headers, **(headers or {})},
    )


def from_exception(exc: BaseException) -> ServeError:
    """The error a failed run is answered with (upstream failures are 502s)."""
    if isinstance(exc, ServeError):
        return exc
    if isinstance(exc, InvalidInputError):
        return ServeError(400, str(exc), param="messages")
    if isinstance(exc, ArchonError):
        cause = _first_cause(exc)
        if isinstance(cause, ProviderError):
            return ServeError(
                502,
                f"a provider call of the architecture failed: {type(cause).__name__}: {cause}",
                type="upstream_error",
                code=_upstream_code(cause),
            )
        if isinstance(cause, ComponentError | ConfigError):
            return ServeError(
                500,
                f"the architecture failed: {type(cause).__name__}: {cause}",
                type="server_error",
            )
        return ServeError(500, f"{type(cause).__name__}: {cause}", type="server_error")
    # A bug: its text may hold anything, so it goes to the log, not to the client.
    log.error("serve_internal_error", error_type=type(exc).__name__, exc_info=exc)
    return ServeError(500, "internal server error (see the server's log)", type="server_error")


def _first_cause(exc: ArchonError) -> BaseException:
    """A failed layer's first leaf that is not a plain cancellation, else the error itself."""
    while isinstance(exc, LayerFailedGroup) and exc.exceptions:
        providers = [leaf for leaf in exc.exceptions if isinstance(leaf, ProviderError)]
        inner = providers[0] if providers else exc.exceptions[0]
        if not isinstance(inner, ArchonError):
            return inner
        exc = inner
    return exc


def _upstream_code(error: ProviderError) -> str:
    """A short code naming the kind of upstream failure (the class, snake_cased)."""
    name = type(error).__name__.removesuffix("Error")
    return "upstream_" + "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
