"""Pointing a whole architecture at one endpoint and model (``--base-url URL --model NAME``).

A user with a local OpenAI-compatible server (llama.cpp's ``llama-server``, Ollama, vLLM) or a
single API key runs any architecture against it without editing every layer: every component
that calls a model gets the same model_type, model and sampling settings, and the endpoint
becomes each such component's base URL (so that it holds on a shared `CallPath` too, whose
own providers section an engine reads instead of the architecture's) and that model_type's
base URL in the providers section.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from ._config import ConfigWarning
from ._exceptions import ConfigError
from ._redact import redacted_url

if TYPE_CHECKING:
    from ._architecture import Architecture

__all__ = ["OVERRIDE_MODEL_TYPE", "override_architecture"]

#: The model_type a bare base URL is served as: any OpenAI-compatible server, no key needed
#: (``OPENAI_COMPATIBLE_API_KEY`` is sent when set).
OVERRIDE_MODEL_TYPE = "OpenAI_Compatible"

_LLM_TYPES = {
    "generator",
    "fuser",
    "ranker",
    "critic",
    "verifier",
    "unit_test_generator",
    "unit_test_evaluator",
}


def override_architecture(
    architecture: Architecture,
    *,
    model: str | None = None,
    model_type: str | None = None,
    base_url: str | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> Architecture:
    """A copy of ``architecture`` whose model-calling components all use the given values.

    See `Architecture.with_overrides`.

    Raises:
        ConfigError: a value is invalid (the result is validated like a loaded config).
    """
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"the base URL must start with http:// or https://, got {redacted_url(base_url)!r}"
        )
    if base_url is not None and model_type is None:
        model_type = OVERRIDE_MODEL_TYPE
    update: dict[str, Any] = {
        key: value
        for key, value in (
            ("model", model),
            ("model_type", model_type),
            ("max_tokens", max_tokens),
            ("temperature", temperature),
        )
        if value is not None
    }
    data = architecture.to_dict()
    for layer in data["layers"]:
        for component in layer:
            # A custom component that names no model_type calls no model: left alone.
            if component.get("model_type") or component["type"] in _LLM_TYPES:
                component.update(update)
                if base_url is not None:
                    component["base_url"] = base_url  # the override's endpoint wins
    if base_url is not None:
        assert model_type is not None
        providers = data.setdefault("providers", {})
        providers[model_type] = {**providers.get(model_type, {}), "base_url": base_url}
    # The source names the overrides in messages and reprs: a URL's password stays out.
    shown = redacted_url(base_url) if base_url is not None else None
    said = ", ".join(
        f"{key}={value}"
        for key, value in {**update, "base_url": shown}.items()
        if value is not None
    )
    with warnings.catch_warnings():
        # Its unknown keys were said when it was loaded.
        warnings.simplefilter("ignore", ConfigWarning)
        return type(architecture).from_dict(
            data, registry=architecture.registry, source=f"{architecture.source} ({said})"
        )
