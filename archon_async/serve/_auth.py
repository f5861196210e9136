"""Who may call the server: bearer keys, and how many requests each may have in flight.

Keys come from the command line, a file (one per line, ``#`` comments) or the environment
(``ARCHON_SERVE_API_KEYS``, separated by commas or whitespace). A presented token is
compared with every key in constant time (digests of equal length, so neither the content
nor the length of a key shows in the timing); callers are known by a fingerprint, never by
their key, in logs and traces.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from pydantic import SecretStr

from .._exceptions import ConfigError
from .._keys import fingerprint
from ._errors import ServeError

__all__ = ["ANONYMOUS", "ENV_API_KEYS", "Gate", "load_api_keys"]

#: The environment variable holding the server's keys.
ENV_API_KEYS = "ARCHON_SERVE_API_KEYS"
#: The caller id of every request when the server has no keys.
ANONYMOUS = "anonymous"
_SEPARATORS = re.compile(r"[\s,]+")


def load_api_keys(
    given: Iterable[str] = (),
    *,
    file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[SecretStr]:
    """The keys callers may present: given ones, a file's lines, then the environment's.

    Raises:
        ConfigError: the file cannot be read or holds no key, the variable is set but
            holds none, or a key is blank or holds whitespace.
    """
    keys = [key.strip() for key in given]
    if file is not None:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read the API key file: {exc.strerror}", source=str(file)
            ) from None
        in_file = [line.strip() for line in text.splitlines()]
        in_file = [line for line in in_file if line and not line.startswith("#")]
        if not in_file:  # a server its owner meant to lock would take every request
            raise ConfigError(
                "the API key file holds no key: write one key a line, or leave out "
                "--api-key-file to serve without keys",
                source=str(file),
            )
        keys += in_file
    variable = (os.environ if environ is None else environ).get(ENV_API_KEYS, "")
    from_variable = [key for key in _SEPARATORS.split(variable) if key]
    if variable and not from_variable:
        raise ConfigError(
            f"{ENV_API_KEYS} is set but holds no key: give the keys (separated by commas "
            "or spaces), or unset it to serve without keys"
        )
    keys += from_variable
    for position, key in enumerate(keys):
        if not key or any(ch.isspace() for ch in key):
            raise ConfigError(
                f"API key number {position + 1} is blank or holds whitespace: give each key "
                "as one word"
            )
    return [SecretStr(key) for key in dict.fromkeys(keys)]


class Gate:
    """Checks a request's bearer token and counts each caller's requests in flight.

    Args:
        api_keys: the accepted keys; none means every request is let in (as ``anonymous``).
        max_concurrent: the most requests one caller may have in flight.
    """

    def __init__(self, api_keys: Iterable[SecretStr], *, max_concurrent: int) -> None:
        if max_concurrent < 1:
            raise ConfigError(f"max_concurrent must be at least 1, not {max_concurrent}")
        self._keys = [
            (_digest(key.get_secret_value()), fingerprint(key.get_secret_value()))
            for key in api_keys
        ]
        self.max_concurrent = max_concurrent
        self._in_flight: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"Gate(keys={len(self._keys)}, max_concurrent={self.max_concurrent})"

    @property
    def requires_key(self) -> bool:
        """Whether callers must present a key."""
        return bool(self._keys)

    def identify(self, authorization: str | None) -> str:
        """The caller's id (a key fingerprint, or ``anonymous`` on a server without keys).

        Raises:
            ServeError: 401 when the key is missing or is not one of the server's.
        """
        if not self._keys:
            return ANONYMOUS
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized(
                "You didn't provide an API key: send it as 'Authorization: Bearer KEY'."
            )
        presented = _digest(token)
        caller = None
        # Every key is compared, so that the time taken does not say which one matched.
        for digest, key_id in self._keys:
            if hmac.compare_digest(presented, digest):
                caller = key_id
        if caller is None:
            raise _unauthorized("Incorrect API key provided.", code="invalid_api_key")
        return caller

    @contextlib.contextmanager
    def slot(self, caller: str) -> Iterator[None]:
        """Hold one of ``caller``'s concurrent-request slots.

        Raises:
            ServeError: 429 when the caller already has `max_concurrent` requests in flight.
        """
        active = self._in_flight.get(caller, 0)
        if active >= self.max_concurrent:
            raise ServeError(
                429,
                f"too many concurrent requests: at most {self.max_concurrent} in flight per "
                "API key; wait for one to finish",
                type="requests",
                code="rate_limit_exceeded",
            )
        self._in_flight[caller] = active + 1
        try:
            yield
        finally:
            left = self._in_flight[caller] - 1
            if left:
                self._in_flight[caller] = left
            else:
                del self._in_flight[caller]

    def in_flight(self) -> int:
        """Requests in flight, all callers together."""
        return sum(self._in_flight.values())


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _unauthorized(message: str, *, code: str | None = None) -> ServeError:
    return ServeError(
        401,
        message,
        code=code,
        headers={"www-authenticate": 'Bearer realm="archon-async"'},
    )
