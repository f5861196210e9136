"""Where calls go: each request's endpoint identity, and checking, before any call, that
every provider an architecture calls knows where to call.

Hosted APIs have a default base URL; self-hosted servers (``OpenAI_Compatible``, ``vLLM``,
``tgi``) have none, so a config that names one without a base URL would fail only at its
first call. `check_base_urls` finds it at `Engine` open and in ``archon-async validate``,
naming the file, the component and what to set.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Mapping, Sequence

from ._architecture import Architecture, is_reward_model
from ._config import ComponentSpec, ProviderSettings, format_location
from ._exceptions import ConfigError
from ._keys import key_variables
from ._redact import MASK, redacted_url
from ._registry import Registry
from ._types import ChatRequest

__all__ = ["check_base_urls", "endpoint_identity", "self_hosted_notes"]

# Self-hosted servers run a fixed number of requests at once and queue the rest; the flags
# that set it: llama.cpp llama-server --parallel, Ollama OLLAMA_NUM_PARALLEL, vLLM
# --max-num-seqs, TGI --max-concurrent-requests (each server's own documentation).
_SELF_HOSTED = ("OpenAI_Compatible", "vLLM", "tgi")
Place = tuple[int, int]  # a component's (layer, position)


def endpoint_identity(provider: object, request: ChatRequest, simulated_as: str | None) -> str:
    """Where ``request`` goes, as the cache key, the memory of ``n`` refusals and the
    circuit breaker tell endpoints apart: the simulator's identity while simulating
    (``simulated_as``: its settings, not its port), else the provider's base URL for it
    (two vLLM servers of one model_type are two endpoints), else the model_type (a
    provider with no base URL)."""
    if simulated_as is not None:
        return simulated_as  # never mixed with a real provider's entries
    base_url = getattr(provider, "base_url", None)
    return base_url(request) if callable(base_url) else request.model_type


def check_base_urls(
    layers: Sequence[Sequence[ComponentSpec]],
    settings: Mapping[str, ProviderSettings],
    registry: Registry,
    source: str,
    keyed: Callable[[str], bool] | None = None,
) -> None:
    """Raise for the first component whose provider has no base URL anywhere.

    A base URL comes from the component's ``base_url``, the provider's settings (the
    config's ``providers`` section or ``Engine(providers=...)``), the provider's
    environment variable, or the provider's default. Providers that resolve no base URL
    (custom generators) are not checked. ``keyed`` says whether a model_type's calls carry
    a key (its pool holds one); given, a base URL with a user name and password (sent as
    HTTP Basic authorization) is refused where the key goes in the same Authorization
    header (aiohttp refuses each such request: "Cannot combine AUTHORIZATION header with
    ... credentials encoded in URL").

    Raises:
        ConfigError: a component's provider has none, or one that is not an http:// or
            https:// URL with a host (a typo in ``TOGETHER_BASE_URL`` was met only at the
            first call, and retried), or one with a password beside a key (see
            ``keyed``); the file, the component (``layers[i][j]``) and the variable or
            settings to give are named, a URL's password as ``***``.
    """
    resolvers: dict[str, object] = {}

    def provider_of(model_type: str) -> object:
        if model_type not in resolvers:
            resolvers[model_type] = registry.build_provider(
                model_type, settings.get(model_type) or ProviderSettings()
            )
        return resolvers[model_type]

    def check_credentials(url: str, where: str, spec: ComponentSpec, place: Place) -> None:
        model_type = spec.model_type
        if keyed is None or not model_type or not registry.has_provider(model_type):
            return
        if urllib.parse.urlsplit(url).password is None or not keyed(model_type):
            return
        if isinstance(provider_of(model_type), _bearer_wire()):
            raise _credentials_and_key(url, where, spec, source, place)

    for index, layer in enumerate(layers):
        for position, spec in enumerate(layer):
            model_type = spec.model_type
            place = (index, position)
            if spec.base_url:
                _check_form(spec.base_url, "its 'base_url'", spec, source, place)
                check_credentials(spec.base_url, "its 'base_url'", spec, place)
                continue
            if not model_type or not registry.has_provider(model_type):
                continue
            if is_reward_model(spec):
                continue  # scored by a backend, not called through the provider
            provider = provider_of(model_type)
            resolve = getattr(provider, "base_url", None)
            if not callable(resolve):
                continue
            try:
                url = resolve(ChatRequest(model=spec.model, model_type=model_type, messages=()))
            except ConfigError:
                raise _missing(provider, spec, source, place) from None
            where = _origin(provider, settings.get(model_type), model_type)
            _check_form(str(url), where, spec, source, place)
            check_credentials(str(url), where, spec, place)


def _origin(provider: object, settings: ProviderSettings | None, model_type: str) -> str:
    """Where a provider's base URL comes from, as `base_url` resolves it (for messages)."""
    if settings is not None and settings.base_url:
        return f"providers.{model_type}.base_url"
    variable = getattr(provider, "env_base_url", None)
    if variable and os.environ.get(variable):
        return f"the environment variable {variable}"
    return "its default"


def _check_form(url: str, where: str, spec: ComponentSpec, source: str, place: Place) -> None:
    try:
        parts = urllib.parse.urlsplit(url)
        fine = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:  # a bad port or bracketed host
        fine = False
    if not fine:
        raise _url_error(
            spec,
            f"{redacted_url(url)!r} from {where}: give an http:// or https:// URL with a "
            "host, such as http://127.0.0.1:8000/v1",
            source,
            place,
        )
    if parts.password == MASK:
        # Sent as it is, *** would fail every call with a 401 (and be retried).
        raise _url_error(
            spec,
            f"{url!r} from {where}, whose password is masked as {MASK} (a file the library "
            "writes, such as a search's best.json, never holds a password): put the "
            f"password back in place of {MASK}",
            source,
            place,
        )


def _url_error(spec: ComponentSpec, detail: str, source: str, place: Place) -> ConfigError:
    """A ConfigError about a component's base URL; `detail` follows "has the base URL "."""
    return ConfigError(
        f"model_type {spec.model_type!r} (model {spec.model!r}) has the base URL {detail}",
        source=source,
        location=format_location(("layers", *place)),
    )


def _bearer_wire() -> type:
    """The provider class whose key is a bearer token in the Authorization header."""
    from .providers.openai_chat import OpenAIChatProvider

    return OpenAIChatProvider


def _credentials_and_key(
    url: str, where: str, spec: ComponentSpec, source: str, place: Place
) -> ConfigError:
    variable = key_variables(spec.model_type or "")[0]
    # A hosted API needs its key; a server you run can take the URL's credentials alone.
    keyless = f", or give no {variable} to call with the URL's credentials"
    return _url_error(
        spec,
        f"{redacted_url(url)!r} from {where}, whose user name and password are sent as "
        f"HTTP Basic authorization, and a key ({variable}) to send as a bearer token: a "
        "request has one Authorization header. Take the user:password@ out of the URL to "
        f"call with the key{keyless if spec.model_type in _SELF_HOSTED else ''}",
        source,
        place,
    )


def _missing(provider: object, spec: ComponentSpec, source: str, place: Place) -> ConfigError:
    variable = getattr(provider, "env_base_url", None)
    ways = [f"set {variable} (e.g. http://127.0.0.1:8000/v1)"] if variable else []
    ways += [
        "give 'base_url' in this component",
        f"or providers.{spec.model_type}.base_url in the config",
    ]
    return ConfigError(
        f"model_type {spec.model_type!r} (model {spec.model!r}) is served by a server you "
        f"run and has no base URL: {', '.join(ways)}",
        source=source,
        location=format_location(("layers", *place)),
    )


def self_hosted_notes(architecture: Architecture) -> list[str]:
    """Advice for each self-hosted provider an architecture calls without a concurrency set.

    A request waiting in a busy server's own queue spends its ``timeout_s`` there, times
    out and is resent; capping ``max_concurrency`` at what the server runs at once keeps the
    queue on our side, where waiting costs no timeout.
    """
    used = {spec.model_type for layer in architecture.layers for spec in layer}
    notes = []
    for model_type in _SELF_HOSTED:
        settings = architecture.providers.get(model_type)
        if model_type not in used or (settings and "max_concurrency" in settings.model_fields_set):
            continue
        notes.append(
            f"{model_type} is self-hosted: set providers.{model_type}.max_concurrency to the "
            "requests the server runs at once (llama-server --parallel, Ollama "
            "OLLAMA_NUM_PARALLEL, vLLM --max-num-seqs, TGI --max-concurrent-requests); "
            "requests beyond it wait in the server's queue, where the wait counts against "
            "timeout_s"
        )
    return notes
