"""Redaction of secrets from text: a key from what a provider sent back (error bodies,
messages, request ids), and a URL's password (`redacted_url`) from what we print.

Providers echo keys in more shapes than the whole key: OpenAI's "Incorrect API key provided:
sk-AB12***********cdef", others quote its first 20 characters. Any run of 8 or more
characters of the key, and any masked form whose visible ends are pieces of the key, is
replaced, so that no part of a key long enough to narrow it down reaches an answer file or
a log.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from typing import Any

__all__ = ["MASK", "REDACTED", "redact_secret", "redacted_url", "redacted_urls", "url_secrets"]

REDACTED = "[redacted]"
#: What stands for a URL's password in what we print and write (`redacted_url`).
MASK = "***"
#: The shortest run of a key's characters that is redacted wherever it appears.
MIN_RUN = 8
# A masked key: visible characters, a mask (***, ..., …), visible characters.
_MASKED = re.compile(r"[\w\-]{2,}(?:\*{2,}|\.{3,}|…)[\w\-]{2,}")
# A masked form's visible end is taken as a piece of the key from this many characters.
_MIN_VISIBLE = 3
# A URL's user info with a password: "scheme://user:PASSWORD@"; the password runs to the
# last "@" before the path (as urllib.parse reads it), and a URL that urllib cannot parse
# (a bad port, a bracketed host) is masked all the same.
_URL_PASSWORD = re.compile(r"(://[^/?#@:]*):[^/?#]*@")
#: The shortest URL password redacted as it is wherever it appears (`url_secrets`).
_MIN_PASSWORD = 4


def redacted_url(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***`` (for messages and reprs):
    ``http://bob:pw@host/v1`` -> ``http://bob:***@host/v1``."""
    return _URL_PASSWORD.sub(rf"\1:{MASK}@", url)


def redacted_urls(value: Any) -> Any:
    """``value`` (JSON-ready: dicts, lists, strings, numbers) with every string's URL
    password replaced by ``***`` (`redacted_url`), for a file the library writes."""
    if isinstance(value, str):
        return redacted_url(value)
    if isinstance(value, list):
        return [redacted_urls(item) for item in value]
    if isinstance(value, dict):
        return {key: redacted_urls(item) for key, item in value.items()}
    return value


def url_secrets(url: str) -> tuple[str, ...]:
    """The secrets a request to ``url`` sends for its user info, if it has a password: the
    password and the HTTP Basic credentials (``base64(user:password)``, as UTF-8 and as
    Latin-1), which a server quoting the Authorization header echoes (`redact_secret` each)."""
    match = _URL_PASSWORD.search(url)
    if match is None:
        return ()
    user = urllib.parse.unquote(match.group(1)[3:])
    password = urllib.parse.unquote(match.group(0)[len(match.group(1)) + 1 : -1])
    pair = f"{user}:{password}"
    encoded = {
        base64.b64encode(pair.encode(code, "replace")).decode() for code in ("utf-8", "latin-1")
    }
    # A password of a few characters is left in text as it is (every "pw" of a message would
    # go); its Basic credentials are still redacted.
    return (*([password] if len(password) >= _MIN_PASSWORD else []), *sorted(encoded))


def redact_secret(text: str, secret: str | None) -> str:
    """``text`` with every 8+ character run of ``secret``, and every masked form of it,
    replaced by ``[redacted]``.

    Args:
        text: provider text (an error body, a message, a request id).
        secret: the key sent with the request; None or "" leaves the text as it is.
    """
    if not secret or not text:
        return text
    if len(secret) >= MIN_RUN:
        text = _redact_runs(text, secret)
    else:
        text = text.replace(secret, REDACTED)
    return _MASKED.sub(lambda match: _mask_if_key(match.group(0), secret), text)


def _redact_runs(text: str, secret: str) -> str:
    """Replace each maximal run of text made of overlapping 8-grams of the key."""
    grams = {secret[i : i + MIN_RUN] for i in range(len(secret) - MIN_RUN + 1)}
    covered = [False] * len(text)
    for start in range(len(text) - MIN_RUN + 1):
        if text[start : start + MIN_RUN] in grams:
            covered[start : start + MIN_RUN] = [True] * MIN_RUN
    if not any(covered):
        return text
    parts: list[str] = []
    index = 0
    while index < len(text):
        if covered[index]:
            while index < len(text) and covered[index]:
                index += 1
            parts.append(REDACTED)
        else:
            parts.append(text[index])
            index += 1
    return "".join(parts)


def _mask_if_key(masked: str, secret: str) -> str:
    """A masked token is a key's when one of its visible ends is a piece of the key."""
    head = re.match(r"[\w\-]+", masked)
    tail = re.search(r"[\w\-]+$", masked)
    ends = [part.group(0) for part in (head, tail) if part is not None]
    if any(len(end) >= _MIN_VISIBLE and end in secret for end in ends):
        return REDACTED
    return masked
