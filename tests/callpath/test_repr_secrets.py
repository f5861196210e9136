"""A base URL's password (a gateway's HTTP Basic auth: ``http://user:PASSWORD@host/v1``) is
kept out of the reprs of what carries it along the call path: the request a component
makes (`ChatRequest`), the component's spec and a provider's settings. Their dataclass
and pydantic reprs printed it whole, so a print, a log of an object or a failing
assertion showed it, where messages already masked it (`redacted_url`)."""

from __future__ import annotations

from archon_async import Architecture, ChatRequest
from archon_async._config import ProviderSettings

PASSWORD = "hunter2-gateway-0123"
URL = f"http://bob:{PASSWORD}@127.0.0.1:9/v1"


def test_a_request_shows_its_base_url_without_the_password() -> None:
    request = ChatRequest(
        model="m", model_type="OpenAI_API", messages=[{"role": "user", "content": "q"}],
        base_url=URL, temperature=0.5,
    )  # fmt: skip
    shown = repr(request)
    assert PASSWORD not in shown and PASSWORD not in str(request)
    assert "base_url='http://bob:***@127.0.0.1:9/v1'" in shown
    assert shown.startswith("ChatRequest(model='m', model_type='OpenAI_API', messages=[")
    assert "temperature=0.5" in shown and shown.endswith("stop=(), n=1)")
    assert request.base_url == URL  # what is sent is unchanged
    plain = ChatRequest(model="m", model_type="OpenAI_API", messages=[])
    assert "base_url=None" in repr(plain)


def test_a_component_spec_and_provider_settings_show_no_password() -> None:
    spec = {"type": "generator", "model": "m", "model_type": "OpenAI_API", "base_url": URL}
    architecture = Architecture.from_dict({"layers": [[spec]]})
    built = architecture.layers[0][0]
    settings = ProviderSettings(base_url=URL, rpm=60)
    for shown in (repr(built), str(built), repr(settings), str(settings)):
        assert PASSWORD not in shown
        assert "http://bob:***@127.0.0.1:9/v1" in shown
    assert "model='m'" in repr(built) and "rpm=60" in repr(settings)
    assert built.base_url == URL and settings.base_url == URL
