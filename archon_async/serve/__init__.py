"""Serving architectures as OpenAI-compatible chat models (``archon-async serve``).

This subpackage owns the HTTP side: the ASGI application (`create_app`, Starlette), the
OpenAI wire shapes of requests, replies, stream chunks and errors, bearer-key
authentication and per-key concurrency limits, the trace store, and the command that
serves it with uvicorn. Running and streaming architectures is the engine's job
(`Engine.generate`, `Engine.stream`).

Needs the ``serve`` extra: ``pip install 'archon-async[serve]'``.
"""

from __future__ import annotations

from ._app import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONCURRENT,
    ArchonService,
    create_app,
)
from ._auth import ENV_API_KEYS, load_api_keys
from ._chat import TRACE_HEADER

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_CONCURRENT",
    "ENV_API_KEYS",
    "TRACE_HEADER",
    "ArchonService",
    "create_app",
    "load_api_keys",
]
