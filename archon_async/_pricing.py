"""Approximate list prices, to estimate what a batch costs on real providers.

USD per million tokens (input, output), as the providers listed them in 2024-2025; a user
can pass their own table. Unknown models cost 0 and are reported as unpriced. Every summary
and report writes dollars through `usd` (JSON) and `usd_text` (text), so that no float
noise (``0.0038376000000000005``) and no cheap run shown as ``$0.0000`` reaches a reader.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["DEFAULT_PRICES", "cost_usd", "usd", "usd_text"]

DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-2024-05-13": (5.00, 15.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4-turbo-2024-04-09": (10.00, 30.00),  # the snapshot gpt-4-turbo points to
    "gpt-4o-2024-08-06": (2.50, 10.00),
    "gpt-4o-mini-2024-07-18": (0.15, 0.60),
    "claude-3-5-sonnet-20240620": (3.00, 15.00),
    "claude-3-opus-20240229": (15.00, 75.00),
    "claude-3-haiku-20240307": (0.25, 1.25),
    "gemini-1.5-pro": (1.25, 5.00),
    "gemini-1.5-flash": (0.075, 0.30),
    "meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo": (3.50, 3.50),
    "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo": (0.88, 0.88),
    "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo": (0.18, 0.18),
    "meta-llama/Llama-3-70b-chat-hf": (0.88, 0.88),
    "Qwen/Qwen2-72B-Instruct": (0.90, 0.90),
    "Qwen/Qwen1.5-110B-Chat": (1.80, 1.80),
    "Qwen/Qwen1.5-72B-Chat": (0.90, 0.90),
    "microsoft/WizardLM-2-8x22B": (1.20, 1.20),
    "mistralai/Mixtral-8x22B-Instruct-v0.1": (1.20, 1.20),
    "databricks/dbrx-instruct": (1.20, 1.20),
    "deepseek-ai/deepseek-llm-67b-chat": (0.90, 0.90),
}


def cost_usd(
    model: str,
    input_tokens: int,
    output_tokens: int,
    prices: Mapping[str, tuple[float, float]] = DEFAULT_PRICES,
) -> float | None:
    """The estimated cost of some tokens on a model, or None when the model is unpriced."""
    price = prices.get(model)
    if price is None:
        return None
    return (input_tokens * price[0] + output_tokens * price[1]) / 1_000_000


def usd(value: float) -> float:
    """Dollars as JSON writes them: 6 significant digits (list prices have fewer), so a
    sum's float noise is gone and a cheap call's cost (1.2e-05) is not rounded to 0."""
    return float(f"{value:.6g}")


def usd_text(value: float) -> str:
    """Dollars for a person: cents from $1 up, else 3 significant digits ($0.00384)."""
    if value >= 1 or value <= 0:
        return f"${value:,.2f}" if value else "$0"
    decimals = min(8, 2 - math.floor(math.log10(value)))
    return f"${value:.{decimals}f}"
