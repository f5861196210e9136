"""Configuration models: Archon's architecture format, plus our optional `providers` section.

Archon's format is an input we do not control, so a component's unknown keys (its configs
carry misspellings such as ``length_contorl``) are warnings with a did-you-mean suggestion,
not errors. Real errors raise `ConfigError` naming the source and the place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ._exceptions import ConfigError
from ._redact import redacted_url, redacted_urls
from ._words import closest

__all__ = [
    "ComponentSpec",
    "ConfigWarning",
    "ProviderSettings",
    "format_location",
    "unknown_key_messages",
    "validate_component",
]


#: The request parameters a component may leave out with ``"omit": [...]``.
OmittableParameter = Literal["temperature", "max_tokens", "top_p", "stop"]


class ConfigWarning(UserWarning):
    """A configuration key was not understood and is ignored."""


class ComponentSpec(BaseModel):
    """One component of a layer, as Archon's configs write it.

    Every key Archon's components read is a field here; anything else is kept (so that
    ``to_dict`` round-trips) and reported by `ComponentSpec.unknown_keys`. Values are
    strict: ``"top_k": "5"`` or ``"first_pass": "yes"`` is an error, not a silent guess
    (every published Archon config passes).

    Our additions: ``base_url``; ``top_p`` and ``stop`` (a string or a list), sent under
    each API's own name; ``extra_body``, provider-specific fields merged into the wire body
    as they are (``{"reasoning_effort": "low", "seed": 7}``; they win over the fields built
    from the other keys); and ``omit``, request parameters to leave out so that the
    provider's default applies (``temperature``, ``max_tokens``, ``top_p``, ``stop``).
    """

    model_config = ConfigDict(frozen=True, extra="allow", strict=True)

    type: str = Field(min_length=1)
    # Empty only for a custom component that calls no model (checked at load).
    model: str = ""
    model_type: str = ""
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(default=2048, ge=1)
    samples: int = Field(default=1, ge=1, le=10_000)
    top_k: int | None = Field(default=None, ge=1)
    no_system: bool = False
    use_critiques: bool = False
    length_control: bool = False
    first_k: int | None = Field(default=None, ge=1)
    first_pass: bool | None = None
    unit_test_cap: int | None = Field(default=None, ge=1)
    remove_unit_tests_from_prompt: bool = False
    ranker_batch_size: int | None = Field(default=None, ge=1)
    batch_num: int | None = Field(default=None, ge=1)
    checkpoint: str | None = None
    top_k_generations: int | None = Field(default=None, ge=1)
    fuse_generations_count: int | None = Field(default=None, ge=1)
    ranker_config: dict[str, Any] | None = None
    # Ours: a per-component base URL, for gateways and local servers.
    base_url: str | None = None
    # Sampling parameters every wire defines (OpenAI top_p/stop, Anthropic top_p/
    # stop_sequences, Gemini topP/stopSequences, Bedrock topP/stopSequences).
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    stop: str | list[str] | None = None
    # Ours: provider-specific request fields sent as they are (reasoning_effort, seed...),
    # and request parameters to leave out so that the provider's default applies.
    extra_body: dict[str, Any] | None = None
    omit: list[OmittableParameter] | None = None
    # Ours: the most candidates a first_k verifier or evaluator judges at once (1 is
    # Archon's one-by-one scan; unset means components._first_k.DEFAULT_FIRST_K_WINDOW).
    first_k_window: int | None = Field(default=None, ge=1, le=256)
    # Ours: models to try on a context-length error, a content-filter refusal, or when the
    # model's provider is down (see archon_async.callpath._fallbacks).
    fallbacks: (
        dict[
            Literal["context_window", "content_policy", "unavailable"],
            list[str | dict[str, str]],
        ]
        | None
    ) = None

    def stop_sequences(self) -> tuple[str, ...]:
        """``stop`` as a tuple (a single string is one sequence)."""
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A base URL's password stays out of reprs and str() (a gateway's Basic auth).
        return _redacted_base_url(super().__repr_args__())

    def unknown_keys(self) -> list[str]:
        """The keys of this component that no part of the engine reads."""
        return sorted((self.model_extra or {}).keys())

    def option(self, key: str, default: Any = None) -> Any:
        """A custom component's own setting (an extra key of its config)."""
        return (self.model_extra or {}).get(key, default)


class ProviderSettings(BaseModel):
    """Settings of one provider (keyed by model_type) in the config's `providers` section.

    Attributes:
        base_url: where the provider's API lives (gateways, proxies, local servers).
        rpm: requests per minute allowed for the whole provider, all keys together.
        tpm: tokens per minute allowed for the whole provider, all keys together.
        key_rpm: requests per minute allowed for each key on its own.
        key_tpm: tokens per minute allowed for each key on its own.

    Rate limits come in two scopes. ``rpm``/``tpm`` bound the provider as a whole: use them
    when the limit belongs to an account or organisation that all the keys share (OpenAI's
    and Anthropic's limits are per organisation, not per key), so two keys under
    ``rpm=120`` still make 120 requests a minute in all. ``key_rpm``/``key_tpm`` bound each
    key on its own: use them for keys of separate accounts, whose limits add up. Both
    scopes may be set at once; a call waits for every bucket it draws from.
        max_concurrency: requests in flight at once on this provider's connection pool. The
            default, 256, lets a 100-sample layer go out at once and sits on the flat part of
            the engine's throughput curve (bench/RESULTS.md, "Knee").
        timeout_s: per-request timeout.
        max_retries: retries after the first attempt on 429, 5xx, timeouts, broken connections.
        max_output_tokens: output limits by model, overriding the documented ones that
            ``max_tokens`` is clamped to (Anthropic and Bedrock Claude models, see
            `archon_async.providers.models`), e.g. ``{"claude-3-5-sonnet-20240620": 4096}``.
        max_reply_bytes: the largest reply body read (default 32 MiB, far above any chat
            completion); a larger one is a malformed reply, read no further.
        circuit_failures: failures in a row on one model (attempts that timed out, calls
            given up on a 5xx or a broken connection) after which that model's calls stop
            retrying and fail at once (`CircuitOpenError`, or go to its ``unavailable``
            fallbacks) for ``circuit_open_s`` seconds, if the model has not answered for a
            whole ``timeout_s`` either (a busy model that answers most calls is never cut
            off); 0: off. The policy: `archon_async._circuit`.
        circuit_open_s: how long an open circuit stays open before one trial call.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str | None = None
    rpm: float | None = Field(default=None, gt=0)
    tpm: float | None = Field(default=None, gt=0)
    key_rpm: float | None = Field(default=None, gt=0)
    key_tpm: float | None = Field(default=None, gt=0)
    max_concurrency: int = Field(default=256, ge=1, le=4096)
    timeout_s: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)
    max_output_tokens: dict[str, int] = Field(default_factory=dict)
    max_reply_bytes: int = Field(default=32 * 2**20, ge=1024)
    circuit_failures: int = Field(default=2, ge=0)
    circuit_open_s: float = Field(default=30.0, gt=0)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        return _redacted_base_url(super().__repr_args__())

    @field_validator("max_output_tokens")
    @classmethod
    def _positive_limits(cls, limits: dict[str, int]) -> dict[str, int]:
        for model, limit in limits.items():
            if limit < 1:
                raise ValueError(f"the output limit of {model!r} must be at least 1")
        return limits


def format_location(parts: tuple[int | str, ...]) -> str:
    """Render a path such as ("layers", 3, 0, "top_k") as ``layers[3][0].top_k``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


_KNOWN_KEYS = tuple(ComponentSpec.model_fields)


def validate_component(raw: Any, where: tuple[int | str, ...], source: str) -> ComponentSpec:
    """Validate one component dict (its unknown keys are left to the caller to report).

    Raises:
        ConfigError: the component is not a dict or a value is invalid.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"a component must be a JSON object with 'type' and 'model', got {type(raw).__name__}",
            source=source,
            location=format_location(where),
        )
    try:
        spec = ComponentSpec.model_validate(dict(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        path = tuple(first["loc"])
        if path[-1:] == ("[key]",):  # a mapping's key refused (pydantic adds the marker)
            loc = format_location(where + path[:-2])
            message = f"unknown key {first.get('input')!r}: {first['msg'].lower()}"
            raise ConfigError(message, source=source, location=loc) from None
        loc = format_location(where + path)
        raise ConfigError(_explain(first), source=source, location=loc) from None
    return spec


def unknown_key_messages(
    spec: ComponentSpec, where: tuple[int | str, ...], source: str
) -> list[str]:
    """The warning texts for a component's unknown keys."""
    return [_unknown_key_message(key, where, source) for key in spec.unknown_keys()]


def _unknown_key_message(key: str, where: tuple[int | str, ...], source: str) -> str:
    place = format_location((*where, key))
    suggestion = closest(key, _KNOWN_KEYS, cutoff=0.75)
    hint = f"; did you mean {suggestion!r}?" if suggestion else ""
    return f"{source}, {place}: unknown key {key!r} is ignored{hint}"


def _explain(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    field = error["loc"][-1] if error.get("loc") else "value"
    if kind == "missing":
        return f"{field!r} is missing: every component needs 'type' and 'model'"
    if kind == "string_too_short":
        return f"{field!r} is empty; give it a value in the config"
    given = redacted_urls(error.get("input"))  # a URL's password is never shown
    return f"{error['msg'].lower()} (got {given!r}); fix {field!r} in the config"


def _redacted_base_url(
    args: Iterable[tuple[str | None, Any]],
) -> Iterator[tuple[str | None, Any]]:
    """A model's repr fields (pydantic's ``__repr_args__``) with ``base_url``'s password
    replaced by ``***``."""
    for name, value in args:
        yield name, redacted_url(value) if name == "base_url" and value else value
