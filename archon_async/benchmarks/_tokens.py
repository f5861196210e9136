"""Token counts for official answer files, with the tokenizer the official tool uses.

arena-hard-auto counts an answer's ``token_len`` with tiktoken: ``cl100k_base`` (its
``encoding_for_model("gpt-3.5-turbo")``) in v0.1's ``gen_answer.py`` and
``add_markdown_info.py``, ``o200k_base`` (``"gpt-4o"``) since its 2025 reformat. tiktoken
downloads its encoding files at run time, which fails offline; ``bpe-openai`` (GitHub's
``bpe-openai`` Rust crate, with both encodings inside its wheel, token for token the same
as tiktoken's) counts them here when it is installed (the ``benchmarks`` extra). Without
it a count is estimated at about four characters a token, and callers say so.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any, Literal

__all__ = ["TokenCount", "count_tokens", "describe_token_counts"]

Encoding = Literal["cl100k_base", "o200k_base"]
TokenCount = tuple[int, bool]


@lru_cache(maxsize=2)
def _encoding(name: Encoding) -> Any:
    # bpe-openai loads its data (at import, too) through importlib.resources.open_binary,
    # deprecated since Python 3.11: not ours to fix, so not ours to show.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import bpe_openai  # type: ignore[import-untyped]
        except ImportError:
            return None
        return bpe_openai.get_encoding(name)


def count_tokens(text: str, encoding: Encoding) -> TokenCount:
    """``text``'s tokens in ``encoding`` and whether the count is exact (False: estimated
    at about four characters a token, because ``bpe-openai`` is not installed).

    Special-token text (``<|endoftext|>``) counts as ordinary text, as arena-hard's
    ``disallowed_special=()`` makes it.
    """
    encoder = _encoding(encoding)
    if encoder is None:
        return (max(1, round(len(text) / 4)) if text else 0), False
    return len(encoder.encode(text, disallowed_special=())), True


def describe_token_counts(encoding: Encoding) -> str:
    """How ``token_len`` values are counted here, for summaries."""
    if _encoding(encoding) is not None:
        return f"{encoding} tokens (bpe-openai), as arena-hard-auto counts them"
    return (
        "estimated at about 4 characters a token: arena-hard-auto counts "
        f"{encoding} tokens; install archon-async[benchmarks] (bpe-openai) for that count"
    )
