"""API key pools: Archon's three ways to give keys, rotation, cooldown, and secrecy.

Keys come from the environment (``OPENAI_API_KEY``, ``OPENAI_API_KEY_2``, ... plus a
``.env`` file, read without touching ``os.environ``; Bedrock also takes AWS's own
``AWS_BEARER_TOKEN_BEDROCK``), from a JSON file such as Archon's
``api_keys.json`` (``{"OPENAI_API_KEY": ["k1", "k2"]}``), or from a dict of that shape.
Each provider gets a `KeyPool` that hands out keys in turn, cools a key down after a 429,
disables it when it is refused or out of quota, and waits for the earliest key when all
are cooling.

Keys are `pydantic.SecretStr` from the moment they are read; logs, reprs and errors show a
short fingerprint (``key_id``) at most.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import orjson
from pydantic import SecretStr

from ._exceptions import ConfigError, KeyPoolExhaustedError
from ._logging import get_logger
from ._retry import limit_reset_error

__all__ = [
    "KeyLease",
    "KeyOrigins",
    "KeyPool",
    "KeyPoolStatistics",
    "KeysArgument",
    "check_header_safe",
    "check_required_keys",
    "env_prefix",
    "fingerprint",
    "hidden_keys",
    "load_key_sets",
]

# model_type -> the prefixes of its key variables, as Archon names them.
_ENV_PREFIXES: dict[str, tuple[str, ...]] = {
    "OpenAI_API": ("OPENAI",),
    "Together_API": ("TOGETHER",),
    "Groq_API": ("GROQ",),
    "Anthropic_API": ("ANTHROPIC",),
    "Google_API": ("GOOGLE", "GEMINI"),
    "Bedrock_API": ("BEDROCK",),
    "tgi": ("TGI",),
    "vLLM": ("VLLM",),
    "OpenAI_Compatible": ("OPENAI_COMPATIBLE",),
}
# Hosted APIs refuse every call without a key; self-hosted servers and Bedrock (which can
# sign requests with AWS credentials instead) may go without.
_KEY_REQUIRED = {"OpenAI_API", "Together_API", "Groq_API", "Anthropic_API", "Google_API"}
# Key variables that do not follow the PREFIX_API_KEY pattern, read after the pattern's.
# AWS_BEARER_TOKEN_BEDROCK is the variable AWS's own SDKs and docs use for a Bedrock API key.
_EXTRA_VARIABLES: dict[str, tuple[str, ...]] = {"Bedrock_API": ("AWS_BEARER_TOKEN_BEDROCK",)}
_ALIASES = frozenset(name for names in _EXTRA_VARIABLES.values() for name in names)
_KEY_VARIABLE = re.compile(r"^(?P<name>[A-Z0-9_]+_API_KEY)(?:_(?P<n>\d+))?$")
_MAX_COOLDOWN_S = 60.0

log = get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]
#: What ``keys=`` takes: a JSON key file's path, a dict such as ``{"OPENAI_API_KEY": ["sk-1",
#: "sk-2"]}``, or None for the environment (and a ``.env`` file).
KeysArgument = str | Path | Mapping[str, str | SecretStr | Sequence[str | SecretStr]] | None
KeySets = dict[str, list[SecretStr]]


def fingerprint(key: str) -> str:
    """A short, stable, non-reversible id for a key, safe to log."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:8]


def env_prefix(model_type: str) -> tuple[str, ...]:
    """The key variable prefixes of a model_type (a custom one: its name, upper-cased)."""
    default = (re.sub(r"[^A-Z0-9]+", "_", model_type.upper()).removesuffix("_API"),)
    return _ENV_PREFIXES.get(model_type, default)


def key_variables(model_type: str) -> list[str]:
    """The variables (or key-file names) a model_type's keys are read from, in order."""
    names = [f"{prefix}_API_KEY" for prefix in env_prefix(model_type)]
    return names + list(_EXTRA_VARIABLES.get(model_type, ()))


def check_required_keys(
    model_types: Iterable[str],
    key_sets: KeySets,
    *,
    source: str | None = None,
    origins: KeyOrigins | None = None,
) -> None:
    """Fail before any call when a hosted provider an architecture uses has no key.

    Self-hosted servers, custom generators and Bedrock (which can sign with AWS
    credentials) are never required to have one, as in `KeyPool.for_provider`.

    Raises:
        ConfigError: naming the first such model_type, its variables and the ways to give
            a key; or a key of theirs holding whitespace or a control character inside,
            naming its variable, fingerprint and where it was read from (``origins``).
    """
    model_types = sorted(set(model_types))
    check_header_safe(model_types, key_sets, source, origins)
    missing = keyless_provider(model_types, key_sets)
    if missing is not None:
        model_type, names = missing
        either = " or ".join(names)
        needed = (
            f"{model_type} needs an API key and none is given: set {either} (and "
            f"{names[0]}_2, ... for more keys) in the environment or in a .env file, or "
        )
        raise ConfigError(
            f"{needed}pass keys={{{names[0]!r}: ['...']}} or the path of a JSON key file of "
            "that shape (Archon's api_keys.json) to Engine(keys=...); or simulate=True to "
            "try it on the simulated provider",
            source=source,
            cli_hint=f"{needed}give a JSON key file with --keys FILE "
            f"({{{names[0]!r}: ['...']}}); or add --simulate to try it on the simulated "
            "provider, or --base-url URL --model NAME to use your own OpenAI-compatible server",
        )


# What an HTTP header value cannot carry (RFC 9110, 5.5: no control character but the tab);
# aiohttp refuses such a header with a ValueError at send time, past every retry and check.
_NOT_IN_A_HEADER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# What no key holds: a bearer token is one word of letters, digits and -._~+/= (RFC 6750,
# 2.1, b64token), as are the hosted APIs' keys; a space or tab inside was sent as given and
# failed every call with a 401 (a key pasted with its label, "sk-... old").
_NOT_IN_A_KEY = re.compile(r"[\s\x00-\x1f\x7f]")

#: Where each key was read from, by (variable, `fingerprint`): ``the environment variable
#: OPENAI_API_KEY_2``, ``OPENAI_API_KEY in .env``, ... (`load_key_sets` fills it).
KeyOrigins = dict[tuple[str, str], str]


def check_header_safe(
    model_types: Iterable[str],
    key_sets: KeySets,
    source: str | None,
    origins: KeyOrigins | None = None,
) -> None:
    """Refuse a key of ``model_types`` that holds whitespace or a control character inside
    (its ends are trimmed when it is read): a line break (two keys pasted into one
    variable, a file read whole) no request could carry, and a space or tab no key has.

    Raises:
        ConfigError: naming the variable, the key's place among its keys, its fingerprint
            and where it was read from (``origins``), never the key.
    """
    for model_type in model_types:
        for name in key_variables(model_type):
            keys = key_sets.get(name, [])
            for number, key in enumerate(keys, 1):
                value = key.get_secret_value()
                if _NOT_IN_A_KEY.search(value) is None:
                    continue
                which = f"key {number} of {len(keys)} of {name}" if len(keys) > 1 else name
                mark = fingerprint(value)
                origin = (origins or {}).get((name, mark))
                read = f", read from {origin}" if origin else ""
                if _NOT_IN_A_HEADER.search(value) is not None:
                    what = (
                        "a line break or another control character, which an HTTP header "
                        "cannot carry"
                    )
                else:
                    what = "a space or other whitespace inside, which no API key has"
                raise ConfigError(
                    f"{which} ({mark}, for {model_type}{read}) holds {what}: give one key "
                    f"a variable ({name}, {name}_2, ...) or a list in a JSON key file, "
                    "each on one line and without spaces",
                    source=source,
                )


def keyless_provider(model_types: Iterable[str], key_sets: KeySets) -> tuple[str, list[str]] | None:
    """The first hosted model_type of ``model_types`` with no key in ``key_sets``, and the
    variables its key may be given in; None when every one that needs a key has one."""
    for model_type in sorted(model_types):
        names = key_variables(model_type)
        if model_type in _KEY_REQUIRED and not any(key_sets.get(name) for name in names):
            return model_type, list(names)
    return None


def load_key_sets(
    keys: str | Path | Mapping[str, Any] | None,
    *,
    environ: Mapping[str, str] | None = None,
    dotenv_path: str | Path | None = ".env",
    origins: KeyOrigins | None = None,
) -> KeySets:
    """Read keys into ``{"OPENAI_API_KEY": [SecretStr, ...], ...}``, each trimmed of the
    whitespace around it.

    Args:
        keys: None (environment and ``.env``), the path of a JSON key file, or a dict.
            Variables missing from a file or dict still come from the environment.
        environ: the environment to read (defaults to ``os.environ``; never written).
        dotenv_path: a ``.env`` file to read too, if python-dotenv is installed.
        origins: filled with where each key was read from (for `check_header_safe`).

    Raises:
        ConfigError: the key file is missing, not JSON, or not of the expected shape (the
            message never quotes a key).
    """
    found = {} if origins is None else origins
    sets = _from_environment(os.environ if environ is None else environ, dotenv_path, found)
    if keys is None:
        return sets
    given = _read_key_file(Path(keys)) if isinstance(keys, str | Path) else keys
    source = str(keys) if isinstance(keys, str | Path) else "<keys dict>"
    given_sets = _validated(given, source)
    where = f"the key file {keys}" if isinstance(keys, str | Path) else "keys={...}"
    for name, given_keys in given_sets.items():
        for key in given_keys:
            found[name, fingerprint(key.get_secret_value())] = f"{name} in {where}"
    sets.update(given_sets)
    return sets


def _from_environment(
    environ: Mapping[str, str], dotenv_path: str | Path | None, origins: KeyOrigins
) -> KeySets:
    variables: dict[str, str] = {}
    if dotenv_path is not None:
        variables.update(_read_dotenv(Path(dotenv_path)))
    variables.update(environ)  # the process environment wins over the file
    numbered: dict[str, list[tuple[int, str]]] = {}
    for variable, value in variables.items():
        if not value.strip():
            continue
        if variable in _ALIASES:
            name, number = variable, 1
        elif match := _KEY_VARIABLE.match(variable):
            name, number = match["name"], int(match["n"]) if match["n"] else 1
        else:
            continue
        numbered.setdefault(name, []).append((number, value.strip()))
        origin = f"the environment variable {variable}"
        if variable not in environ:
            origin = f"{variable} in {dotenv_path}"
        origins[name, fingerprint(value.strip())] = origin
    return {
        name: _unique(value for _, value in sorted(entries)) for name, entries in numbered.items()
    }


def _read_dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        from dotenv import dotenv_values
    except ImportError:  # optional: Archon's .env support needs python-dotenv
        # A .env that is there but cannot be read would leave its keys silently unused.
        log.warning(
            "dotenv_not_read",
            path=str(path),
            fix="pip install 'archon-async[dotenv]', or set the keys in the environment",
        )
        return {}
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:  # the bytes are not quoted: they may be a key's
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(
            "the file is not UTF-8 text: save it as UTF-8 (or give the keys in the "
            "environment or a JSON key file)",
            source=str(path),
            location=f"line {line}",
        ) from None
    bindings = list(parse_stream(io.StringIO(text)))
    unread = [binding.original.line for binding in bindings if binding.error]
    if unread:
        # Said with the file and the fix, never the line, which may hold a key; the lines
        # left out are not given to python-dotenv, whose warning names a line number alone.
        log.warning(
            "dotenv_lines_unread",
            path=str(path),
            lines=unread,
            fix="write each variable as NAME=value, one a line (quote a value holding spaces)",
        )
    readable = "".join(binding.original.string for binding in bindings if not binding.error)
    values = dotenv_values(stream=io.StringIO(readable))
    return {name: value for name, value in values.items() if value is not None}


def _read_key_file(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError("the key file does not exist", source=str(path)) from None
    except orjson.JSONDecodeError as exc:
        # The decoder's message can quote the file's text: keep only the position.
        raise ConfigError(
            f"the key file is not valid JSON (line {exc.lineno})", source=str(path)
        ) from None


def _validated(given: Any, source: str) -> KeySets:
    shape = 'keys must look like {"OPENAI_API_KEY": ["key-1", "key-2"], ...}'
    if not isinstance(given, Mapping):
        raise ConfigError(shape, source=source)
    sets: KeySets = {}
    for name, value in given.items():
        values = [value] if isinstance(value, str | SecretStr) else value
        if not isinstance(name, str) or not isinstance(values, list | tuple):
            raise ConfigError(f"{shape}; {name!r} is not a list of strings", source=source)
        # Already-wrapped keys (an Engine wraps a dict at once) are unwrapped only here.
        plain = [v.get_secret_value() if isinstance(v, SecretStr) else v for v in values]
        if not all(isinstance(item, str) for item in plain):
            raise ConfigError(
                f"{shape}; {name!r} holds a value that is not a string", source=source
            )
        sets[name] = _unique(item.strip() for item in plain if item.strip())
    return sets


def hidden_keys(keys: Any) -> Any:
    """A keys argument with every key of a dict wrapped in `SecretStr` at once, so that an
    object holding it until the keys are loaded (an Engine before it opens) never shows them
    (``vars()``, a debugger, a traceback's locals). Paths and None pass through."""
    if not isinstance(keys, Mapping):
        return keys
    return {
        name: [SecretStr(v) if isinstance(v, str) else v for v in value]
        if isinstance(value, list | tuple)
        else (SecretStr(value) if isinstance(value, str) else value)
        for name, value in keys.items()
    }


def _unique(values: Any) -> list[SecretStr]:
    return [SecretStr(value) for value in dict.fromkeys(values)]


@dataclass(frozen=True, slots=True)
class KeyLease:
    """A key handed out for one attempt; ``key_id`` is None when the pool has no key."""

    key_id: str | None
    secret: SecretStr | None = field(default=None, repr=False)

    def value(self) -> str | None:
        """The key itself, to put in a request header and nowhere else."""
        return self.secret.get_secret_value() if self.secret is not None else None


@dataclass(frozen=True, slots=True)
class KeyPoolStatistics:
    """A snapshot of a pool: counts and fingerprints, never keys."""

    provider: str
    total: int
    ready: int
    cooling: int
    disabled: int
    key_ids: tuple[str, ...]


#: The lease of a pool without keys (self-hosted servers).
_NO_KEY = KeyLease(None)


@dataclass(slots=True)
class _Key:
    secret: SecretStr = field(repr=False)
    key_id: str
    cooling_until: float = 0.0
    strikes: int = 0
    disabled: bool = False
    # Handed out for each attempt with this key: immutable, so one object serves them all.
    lease: KeyLease = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.lease = KeyLease(self.key_id, self.secret)


class KeyPool:
    """The keys of one provider, handed out in turn.

    Args:
        provider: the model_type served.
        keys: the keys, in order.
        env_var: the variable a user sets to give a key (named in errors).
        required: whether a call without a key is pointless (hosted APIs).
        clock: a monotonic clock in seconds (tests pass a fake one).
        sleep: an async sleep (tests pass one that advances the fake clock).
    """

    __slots__ = ("_clock", "_cursor", "_keys", "_sleep", "env_var", "provider", "required")

    def __init__(
        self,
        provider: str,
        keys: list[SecretStr],
        *,
        env_var: str,
        required: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self.provider = provider
        self.env_var = env_var
        self.required = required
        self._keys = [_Key(key, fingerprint(key.get_secret_value())) for key in keys]
        self._cursor = 0
        self._clock = clock
        self._sleep = sleep

    @classmethod
    def for_provider(cls, model_type: str, key_sets: KeySets, **options: Any) -> KeyPool:
        """The pool of a model_type from loaded key sets (all its prefixes, in order)."""
        names = key_variables(model_type)
        keys = [key for name in names for key in key_sets.get(name, [])]
        unique = list({key.get_secret_value(): key for key in keys}.values())
        required = model_type in _KEY_REQUIRED
        return cls(model_type, unique, env_var=names[0], required=required, **options)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        stats = self.statistics()
        return (
            f"KeyPool({self.provider!r}, keys={stats.total}, ready={stats.ready}, "
            f"cooling={stats.cooling}, disabled={stats.disabled}, ids={list(stats.key_ids)})"
        )

    def statistics(self) -> KeyPoolStatistics:
        """How many keys are ready, cooling down and disabled."""
        now = self._clock()
        live = [key for key in self._keys if not key.disabled]
        cooling = sum(1 for key in live if key.cooling_until > now)
        return KeyPoolStatistics(
            provider=self.provider,
            total=len(self._keys),
            ready=len(live) - cooling,
            cooling=cooling,
            disabled=len(self._keys) - len(live),
            key_ids=tuple(key.key_id for key in self._keys),
        )

    def acquire_nowait(self) -> KeyLease | None:
        """The next ready key, or None when every live key is cooling down.

        Raises:
            KeyPoolExhaustedError: no key is given, or every key is disabled.
        """
        if not self._keys:
            if self.required:
                raise self.exhausted_error("no key is given")
            return _NO_KEY
        now = self._clock()
        count = len(self._keys)
        for step in range(count):
            key = self._keys[(self._cursor + step) % count]
            if not key.disabled and key.cooling_until <= now:
                self._cursor = (self._cursor + step + 1) % count
                return key.lease
        if all(key.disabled for key in self._keys):
            raise self.exhausted_error(f"all {count} keys were refused or are out of quota")
        return None

    async def acquire(self, *, max_wait_s: float | None = None) -> KeyLease:
        """The next ready key, waiting for the earliest cooling key when none is ready.

        Args:
            max_wait_s: the longest wait for a cooling key; None waits as long as it takes.

        Raises:
            KeyPoolExhaustedError: no key is given, or every key is disabled.
            RateLimitResetError: every live key rests for longer than ``max_wait_s``.
        """
        while (lease := self.acquire_nowait()) is None:
            earliest = min(key.cooling_until for key in self._keys if not key.disabled)
            wait = max(earliest - self._clock(), 0.0)
            if max_wait_s is not None and wait > max_wait_s:
                raise limit_reset_error(self.provider, wait, key_id=None, longest_s=max_wait_s)
            await self._sleep(wait)
        return lease

    def wait_s(self) -> float | None:
        """Seconds until a live key is ready (0 when one is), or None when none is live."""
        if not self._keys:
            return 0.0
        live = [key.cooling_until for key in self._keys if not key.disabled]
        return max(min(live) - self._clock(), 0.0) if live else None

    def cool_down(self, key_id: str | None, retry_after: float | None) -> float:
        """Rest a key after a 429: for ``retry_after`` seconds, else a growing backoff.

        Returns:
            The cooldown applied, in seconds.
        """
        key = self._find(key_id)
        if key is None:
            return 0.0
        key.strikes += 1
        # A told wait is kept whole (a call that cannot afford it fails at `acquire`, saying
        # when the key is back); only our own guess, the growing backoff, is capped.
        if retry_after is not None:
            delay = max(retry_after, 0.0)
        else:
            delay = min(2.0 ** (key.strikes - 1), _MAX_COOLDOWN_S)
        key.cooling_until = max(key.cooling_until, self._clock() + delay)
        return delay

    def rest(self, key_id: str | None, seconds: float) -> None:
        """Hand a key out to no one for ``seconds``: the provider said it has nothing left
        until then (a success whose ``remaining`` header reached 0). Not a strike."""
        key = self._find(key_id)
        if key is not None:
            delay = max(seconds, 0.0)
            key.cooling_until = max(key.cooling_until, self._clock() + delay)

    def disable(self, key_id: str | None) -> None:
        """Stop using a key the provider refused (401, a 403 about the key) or out of quota."""
        key = self._find(key_id)
        if key is not None:
            key.disabled = True

    def succeeded(self, key_id: str | None) -> None:
        """A call with this key succeeded: its backoff starts over."""
        key = self._find(key_id)
        if key is not None:
            key.strikes = 0

    def _find(self, key_id: str | None) -> _Key | None:
        for key in self._keys:  # a few keys: a loop beats building a generator per call
            if key.key_id == key_id:
                return key
        return None

    def exhausted_error(self, what: str) -> KeyPoolExhaustedError:
        """The error for a pool with no usable key: ``what`` happened, and how to fix it."""
        return KeyPoolExhaustedError(
            f"{what}: set {self.env_var} (and {self.env_var}_2, ... for more keys) in the "
            "environment or .env, or pass keys= to the engine",
            provider=self.provider,
        )
