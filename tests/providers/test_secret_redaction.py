"""Keys stay out of provider text, exceptions and tracebacks, whatever shape they are echoed in."""

from __future__ import annotations

import traceback
from collections.abc import Iterator

import httpx
import pytest
import respx

from archon_async import Engine, LayerFailedGroup
from archon_async.core import BadRequestError, ProviderConnectionError, redact_secret

KEY = "sk-AB12cdEF34ghIJ56klMN78opQR90stUV"
OPENAI_URL = "https://api.openai.com/v1/chat/completions"
SINGLE = {
    "name": "single",
    "layers": [
        [
            {
                "type": "generator",
                "model": "gpt-x",
                "model_type": "OpenAI_API",
                "temperature": 0.7,
                "max_tokens": 64,
                "samples": 1,
            }
        ]
    ],
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key {KEY} refused", "key [redacted] refused"),
        (f"Incorrect API key provided: {KEY[:20]}", "Incorrect API key provided: [redacted]"),
        (
            "Incorrect API key provided: sk-AB12***********UV",
            "Incorrect API key provided: [redacted]",
        ),
        ("masked sk-AB12...stUV here", "masked [redacted] here"),
        (f"part {KEY[5:13]} of it", "part [redacted] of it"),  # any 8-character run
        (f"short {KEY[5:12]} stays", f"short {KEY[5:12]} stays"),  # 7 characters: not the key
        ("other ab***cd masked", "other ab***cd masked"),  # a mask around no piece of it
        ("no key at all", "no key at all"),
    ],
)
def test_every_shape_of_an_echoed_key_is_redacted(text: str, expected: str) -> None:
    assert redact_secret(text, KEY) == expected


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def _assert_key_unreachable(error: BaseException) -> None:
    for current in _chain(error):
        assert KEY not in str(current) and KEY[:8] not in repr(vars(current))
        assert not isinstance(current, httpx.HTTPError)  # its .request holds the header
        for frame, _ in traceback.walk_tb(current.__traceback__):
            if frame.f_code.co_filename == __file__:
                continue  # this test's own frame holds the key it stubbed
            for name, value in frame.f_locals.items():
                assert KEY not in repr(value), f"{frame.f_code.co_name}: {name}"
                assert not isinstance(value, str) or KEY not in value
        library_frames = [
            (frame, line)
            for frame, line in traceback.walk_tb(current.__traceback__)
            if frame.f_code.co_filename != __file__
        ]
        summary = traceback.StackSummary.extract(iter(library_frames), capture_locals=True)
        printed = "".join(summary.format())
        assert KEY not in printed and KEY[:12] not in printed


async def test_an_error_body_echoing_the_key_leaves_no_trace_of_it() -> None:
    body = {"error": {"message": f"Invalid request from {KEY[:20]} (sk-AB12****UV)"}}
    with respx.mock(using="httpx") as mock:
        mock.post(OPENAI_URL).respond(400, json=body, headers={"x-request-id": f"req-{KEY}"})
        async with Engine(SINGLE, keys={"OPENAI_API_KEY": [KEY]}) as engine:
            with pytest.raises(LayerFailedGroup) as caught:
                await engine.generate("Hello")
    (leaf,) = caught.value.exceptions
    assert isinstance(leaf, BadRequestError)
    assert leaf.body is not None and "[redacted]" in leaf.body and "AB12" not in leaf.body
    assert leaf.request_id == "req-[redacted]"
    _assert_key_unreachable(caught.value)
    assert caught.value.trace is not None
    for call in caught.value.trace.calls():
        assert call.error is not None and "AB12" not in call.error


async def test_a_connection_error_does_not_chain_the_request_that_holds_the_key() -> None:
    with respx.mock(using="httpx") as mock:
        mock.post(OPENAI_URL).mock(side_effect=httpx.ConnectError("refused"))
        engine = Engine(
            SINGLE,
            keys={"OPENAI_API_KEY": [KEY]},
            providers={"OpenAI_API": {"max_retries": 0}},
        )
        async with engine:
            with pytest.raises(LayerFailedGroup) as caught:
                await engine.generate("Hello")
    (leaf,) = caught.value.exceptions
    assert isinstance(leaf, ProviderConnectionError)
    _assert_key_unreachable(caught.value)
