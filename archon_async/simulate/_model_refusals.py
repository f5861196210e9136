"""Per-model refusals of the simulated provider, to exercise a client's fallbacks: a
context window, a content filter (a model that is down is a per-model ``fault_rate``).

* ``context_window``: a request whose prompt (characters / 4, the simulator's count) plus
  its completion budget (``max_tokens``, or 256 when unset) exceeds the model's window is
  refused with the API's 400 and its wording: OpenAI's ``context_length_exceeded``
  ("maximum context length is N tokens"), Anthropic's "prompt is too long: N tokens > M
  maximum", Gemini's "input token count (N) exceeds the maximum number of tokens allowed
  (M)", Bedrock's "Input is too long for requested model" (the phrases each API documents
  or sends; the sentences around them are ours).
* ``content_filter``: a prompt containing one of the model's words (case-insensitive) is
  refused with a 400 that says the content filter blocked it, with OpenAI's (Azure's)
  ``content_filter`` code. The real Anthropic, Gemini and Bedrock APIs say it with a
  finish reason instead (``refusal``, ``SAFETY``, ``content_filtered``); the simulator
  answers every wire with the 400, which clients classify alike.
"""

from __future__ import annotations

from ._settings import ModelSettings
from ._wire import BadRequest, Inbound, Wire

__all__ = ["check_model_refusals"]

_DEFAULT_COMPLETION = 256


def check_model_refusals(inbound: Inbound, limits: ModelSettings) -> None:
    """Refuse what the model's window or content filter would refuse.

    Raises:
        BadRequest: the API's 400 (with OpenAI's ``code`` and ``param``).
    """
    if limits.content_filter:
        text = " ".join(text for _, text in inbound.messages).lower()
        if any(word.lower() in text for word in limits.content_filter):
            raise BadRequest(
                "The prompt was filtered: it triggered the content management policy "
                "(content filter). Rephrase the prompt or use another model.",
                param="prompt",
                code="content_filter",
            )
    window = limits.context_window
    if window is None:
        return
    prompt = sum(len(text) for _, text in inbound.messages) // 4
    completion = inbound.max_tokens or _DEFAULT_COMPLETION
    if prompt + completion > window:
        raise BadRequest(
            _context_message(inbound.wire, prompt, completion, window),
            param="messages",
            code="context_length_exceeded",
        )


def _context_message(wire: Wire, prompt: int, completion: int, window: int) -> str:
    if wire is Wire.ANTHROPIC:
        return f"prompt is too long: {prompt + completion} tokens > {window} maximum"
    if wire is Wire.GOOGLE:
        return (
            f"The input token count ({prompt + completion}) exceeds the maximum number of "
            f"tokens allowed ({window})."
        )
    if wire is Wire.BEDROCK:
        return "Input is too long for requested model."
    return (
        f"This model's maximum context length is {window} tokens; this request asks for "
        f"{prompt + completion} ({prompt} in the messages, {completion} for the "
        "completion). Shorten the messages or lower max_tokens."
    )
