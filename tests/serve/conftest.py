"""Fixtures of the server tests: official clients, closed after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from tests.serve.serve_helpers import KEY

Clients = Callable[..., openai.OpenAI]


@pytest.fixture
def clients() -> Iterator[Clients]:
    """``clients(url, key=KEY)``: a sync openai client (no retries) on ``url``/v1."""
    made: list[openai.OpenAI] = []

    def make(url: str, key: str = KEY, **options: Any) -> openai.OpenAI:
        made.append(openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, **options))
        return made[-1]

    yield make
    for client in made:
        client.close()
