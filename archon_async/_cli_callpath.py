"""The CLI's call-path options: ``--cache``, budgets (``--max-calls``, ``--max-total-tokens``,
``--max-cost``), ``--estimate`` and ``--shared-limits``, shared by ``run``, ``batch`` and
``judge`` (``serve`` takes ``--shared-limits`` too)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from ._architecture import Architecture
from ._exceptions import ConfigError
from .callpath import Budget, RedisLimits, ResponseCache
from .callpath._estimate import estimate

__all__ = [
    "add_callpath_options",
    "add_shared_limits_option",
    "budget_from_args",
    "cache_from_args",
    "item_prompts",
    "print_estimate",
    "shared_limits_from_args",
    "shared_limits_url",
]


def add_callpath_options(parser: argparse.ArgumentParser) -> None:
    """Add the cache, budget and estimate options to a command."""
    parser.add_argument(
        "--cache",
        type=Path,
        metavar="PATH",
        help="a response cache (SQLite file, created if missing, shared safely by several "
        "processes): answered requests are not sent again",
    )
    parser.add_argument(
        "--cache-namespace",
        default="default",
        metavar="NAME",
        help="keep this run's cache entries apart from other experiments' (default: default)",
    )
    parser.add_argument(
        "--max-calls", type=int, metavar="N", help="stop starting prompts after N calls"
    )
    # --max-tokens is the output limit of every call (cli.py): the budget is of total tokens.
    parser.add_argument(
        "--max-total-tokens",
        type=int,
        metavar="N",
        dest="budget_tokens",
        help="stop starting prompts after N tokens in and out, all calls together",
    )
    parser.add_argument(
        "--max-cost",
        type=float,
        metavar="USD",
        help="stop starting prompts once the estimated cost reaches USD (list prices)",
    )
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="print the expected calls, tokens and cost (a range) and exit without a call",
    )
    add_shared_limits_option(parser)


def add_shared_limits_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--shared-limits URL`` and ``--shared-limits-prefix NAME`` to a command."""
    parser.add_argument(
        "--shared-limits",
        metavar="URL",
        help="hold the providers' rate limits together with every process using the same "
        "Redis server, e.g. redis://127.0.0.1:6379/0 (needs the redis extra)",
    )
    parser.add_argument(
        "--shared-limits-prefix",
        default="archon",
        metavar="NAME",
        help="the Redis key prefix of one fleet sharing limits (default: archon)",
    )


def shared_limits_url(args: argparse.Namespace) -> str | None:
    """The ``--shared-limits`` URL, checked, if given.

    Raises:
        ConfigError: it is not a redis://, rediss:// or unix:// URL.
    """
    url: str | None = getattr(args, "shared_limits", None)
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"--shared-limits takes a Redis URL such as redis://127.0.0.1:6379/0, not {url!r}"
        )
    return url


def shared_limits_from_args(args: argparse.Namespace) -> RedisLimits | None:
    """The Redis-shared limits the options name, if any.

    Raises:
        ConfigError: not a Redis URL, or the redis extra is missing.
    """
    url = shared_limits_url(args)
    return None if url is None else RedisLimits(url, prefix=args.shared_limits_prefix)


def cache_from_args(args: argparse.Namespace) -> ResponseCache | None:
    """The response cache the options name, if any."""
    path = getattr(args, "cache", None)
    if path is None:
        return None
    return ResponseCache(path, namespace=args.cache_namespace)


def budget_from_args(args: argparse.Namespace) -> Budget | None:
    """The budget the options set, if any.

    Raises:
        InvalidInputError: a negative cap.
    """
    caps = (args.max_calls, args.budget_tokens, args.max_cost)
    if caps == (None, None, None):
        return None
    return Budget(max_calls=caps[0], max_tokens=caps[1], max_cost_usd=caps[2])


def print_estimate(
    architecture: Architecture,
    prompts: Iterable[str | Sequence[Mapping[str, str]]],
    args: argparse.Namespace,
    *,
    already_answered: int = 0,
) -> int:
    """Write the estimate of running ``architecture`` on ``prompts`` as JSON on stdout
    (``already_answered``: prompts of the input the output holds, left out)."""
    figures: dict[str, Any] = estimate(architecture, prompts).to_dict()
    figures["architecture"] = architecture.name
    if already_answered:
        figures["already_answered"] = already_answered
    figures["note"] = (
        "low: no parse retry, replies of a quarter of max_tokens; high: every parse retry, "
        "replies of the full max_tokens; provider retries and cache hits not foreseen"
    )
    sys.stdout.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def item_prompts(items: Iterable[Any]) -> Iterable[str | Sequence[Mapping[str, str]]]:
    """Each run a batch item makes: its messages, or one run per turn (the conversation so
    far counted as the turns up to it)."""
    for item in items:
        if not item.turns:
            yield item.messages
            continue
        sofar = "".join(str(m.get("content", "")) for m in item.messages)
        for turn in item.turns:
            sofar += turn
            yield sofar
