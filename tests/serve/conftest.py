"""Fixtures of the server tests: official clients, closed after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from tests.serve.serve_helpers import CLIENT_TIMEOUT_S, KEY

Clients = Callable[..., openai.OpenAI]


@pytest.fixture
def clients() -> Iterator[Clients]:
    """``clients(url, key=KEY)``: a sync openai client (no retries) on ``url``/v1.

    Its timeout is 60 s, not the SDK's 600: a reply that never comes fails the test with
    the client's traceback instead of holding the suite for ten minutes.
    """
    made: list[openai.OpenAI] = []

    def make(url: str, key: str = KEY, **options: Any) -> openai.OpenAI:
        options.setdefault("timeout", CLIENT_TIMEOUT_S)
        made.append(openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, **options))
        return made[-1]

    yield make
    for client in made:
        client.close()
