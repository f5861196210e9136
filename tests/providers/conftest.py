"""Fixtures for adapter tests: respx routes every provider request, nothing leaves the host."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    """A respx router on httpx's client level, so it works with the aiohttp transport too."""
    with respx.mock(using="httpx", assert_all_called=False) as mock:
        yield mock
