"""The CLI's call-path options: ``--cache``, budgets (``--max-calls``, ``--max-total-tokens``,
``--max-cost``), ``--estimate`` and ``--shared-limits``, shared by ``run``, ``batch`` and
``judge`` (``serve`` takes ``--shared-limits`` too)."""

from __future__ import annotations

import argparse
import math
import os
import shlex
import shutil
import sys
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ._architecture import Architecture
from ._cli_common import UsageError, positive_float, positive_int, run_async
from ._exceptions import BatchStoppedError, ConfigError
from ._redact import redacted_url
from .callpath import Budget, RedisLimits, ResponseCache
from .callpath._budget import unpriced_models
from .callpath._cache import namespace_problem

if TYPE_CHECKING:
    from ._config import ComponentSpec
    from ._engine import Engine

__all__ = [
    "add_callpath_options",
    "add_shared_limits_option",
    "budget_from_args",
    "budget_overrun",
    "cache_from_args",
    "check_budget_fits",
    "check_shared_limits",
    "invoked_as",
    "item_prompts",
    "known_refusals",
    "print_estimate",
    "rerun_command",
    "shared_limits_from_args",
    "shared_limits_url",
    "stopped_fields",
]


def _cache_path(text: str) -> Path:
    """``--cache``'s file: an empty one was read as the working directory ("cannot use .")."""
    if not text.strip():
        raise argparse.ArgumentTypeError("give the path of the cache file, e.g. runs.sqlite")
    return Path(text)


def _namespace(text: str) -> str:
    """``--cache-namespace``'s name, checked as `ResponseCache` checks it."""
    problem = namespace_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)  # argparse names the flag before it
    return text


def add_callpath_options(parser: argparse.ArgumentParser) -> None:
    """Add the cache, budget and estimate options to a command."""
    parser.add_argument(
        "--cache",
        type=_cache_path,
        metavar="PATH",
        help="a response cache (SQLite file, created if missing, shared safely by several "
        "processes): answered requests are not sent again",
    )
    parser.add_argument(
        "--cache-namespace",
        type=_namespace,
        metavar="NAME",
        help="keep this run's cache entries apart from other experiments' (default: default)",
    )
    # A cap of 0 (or NaN, or infinity) could only answer nothing or mean no cap: refused.
    parser.add_argument(
        "--max-calls", type=positive_int, metavar="N", help="stop starting prompts after N calls"
    )
    # --max-tokens is the output limit of every call (cli.py): the budget is of total tokens.
    parser.add_argument(
        "--max-total-tokens",
        type=positive_int,
        metavar="N",
        dest="budget_tokens",
        help="stop starting prompts after N tokens in and out, all calls together",
    )
    parser.add_argument(
        "--max-cost",
        type=positive_float,
        metavar="USD",
        help="stop starting prompts once the estimated cost reaches USD (list prices)",
    )
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="print the expected requests, calls (samples), tokens and cost (a range) and "
        "exit without a call",
    )
    add_shared_limits_option(parser)


class _GivenPrefix(argparse.Action):
    """Stores ``--shared-limits-prefix`` and notes that it was given (its default is
    not), so that the prefix alone is refused rather than ignored."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        if not values or any(c.isspace() for c in values):
            parser.error(
                f"argument --shared-limits-prefix: {values!r} must name the fleet sharing "
                "the limits: a non-empty name without spaces (default: archon)"
            )
        namespace.shared_limits_prefix = values
        namespace.shared_limits_prefix_given = True


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
        action=_GivenPrefix,
        metavar="NAME",
        help="the Redis key prefix of one fleet sharing limits (default: archon)",
    )


def shared_limits_url(args: argparse.Namespace) -> str | None:
    """The ``--shared-limits`` URL, checked, if given.

    Raises:
        ConfigError: it is not a redis://, rediss:// or unix:// URL.
        UsageError: ``--shared-limits-prefix`` without it (no limits would be shared).
    """
    url: str | None = getattr(args, "shared_limits", None)
    if url is None and getattr(args, "shared_limits_prefix_given", False):
        raise UsageError(
            "--shared-limits-prefix names the fleet sharing limits on a Redis server: give "
            "the server with --shared-limits URL"
        )
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            "--shared-limits takes a Redis URL such as redis://127.0.0.1:6379/0, not "
            f"{redacted_url(url)!r}"
        )
    return url


def shared_limits_from_args(args: argparse.Namespace) -> RedisLimits | None:
    """The Redis-shared limits the options name, if any.

    Raises:
        ConfigError: not a Redis URL, or the redis extra is missing.
    """
    url = shared_limits_url(args)
    return None if url is None else RedisLimits(url, prefix=args.shared_limits_prefix)


def check_shared_limits(args: argparse.Namespace) -> None:
    """Reach the ``--shared-limits`` Redis server once, if given (``serve`` does it before
    it listens: its engines open in the server's startup, where a failure is uvicorn's
    traceback, or answered every request with a 500 before the server was checked).

    Raises:
        ConfigError: not a Redis URL, or the server cannot be reached.
    """
    limits = shared_limits_from_args(args)
    if limits is None:
        return

    async def reach() -> None:
        try:
            await limits.check()
        finally:
            await limits.aclose()

    run_async(reach)


def cache_from_args(args: argparse.Namespace) -> ResponseCache | None:
    """The response cache the options name, if any.

    Raises:
        UsageError: ``--cache-namespace`` without ``--cache`` (there would be no cache).
    """
    path = getattr(args, "cache", None)
    namespace = getattr(args, "cache_namespace", None)
    if path is None:
        if namespace is not None:
            raise UsageError(
                "--cache-namespace names a part of a cache file: give the file with --cache PATH"
            )
        return None
    cache = ResponseCache(path, namespace=namespace or "default")
    if not getattr(args, "estimate", False):  # the command will open its call path
        cache.start_read_ahead()  # read while the engine is built and the loop starts
    return cache


def budget_from_args(args: argparse.Namespace) -> Budget | None:
    """The budget the options set, if any.

    Raises:
        InvalidInputError: a negative or non-finite cap.
    """
    caps = (args.max_calls, args.budget_tokens, args.max_cost)
    if caps == (None, None, None):
        return None
    return Budget(max_calls=caps[0], max_tokens=caps[1], max_cost_usd=caps[2])


def print_estimate(
    engine: Engine,
    prompts: Iterable[str | Sequence[Mapping[str, str]]],
    args: argparse.Namespace,
    *,
    already_answered: int = 0,
) -> int:
    """Write the estimate of running ``engine``'s architecture on ``prompts`` as JSON on
    stdout (``already_answered``: prompts of the input the output holds, left out), with
    the refusals of ``n`` recorded where the run reads them counted as known
    (`known_refusals`)."""
    from ._types import ChatRequest
    from .callpath._estimate import estimate  # only for --estimate

    architecture = engine.architecture
    callpath = engine.callpath
    refusals = known_refusals(callpath.cache, callpath.shared_limits)

    def n_key(spec: ComponentSpec) -> tuple[str, str]:
        model_type = spec.model_type or ""
        request = ChatRequest(spec.model, model_type, [], base_url=spec.base_url)
        return callpath.n_key(request)

    figures: dict[str, Any] = estimate(
        architecture, prompts, refusals=refusals, n_key=n_key
    ).to_dict()
    figures["architecture"] = architecture.name
    if already_answered:
        figures["already_answered"] = already_answered
    caps = _caps_reached(figures, args)
    if caps:
        figures["budget"] = caps
    figures["note"] = (
        "calls and samples: one a sample (what --max-calls and the summary's calls count); "
        "requests: HTTP requests (a component's samples go in one where the provider takes "
        "n); low: no parse retry, replies of one token (a run spends at least this); "
        "central: replies of 256 tokens (or max_tokens if lower), a typical chat answer; "
        "high: every parse retry, replies of the full max_tokens, every sample paying its "
        "prompt, and where an endpoint and model are not known to refuse n (recorded in the "
        "--cache file, or the --shared-limits Redis), one request a sample plus the refused "
        "probe, as if it did; "
        "provider retries and cache hits not foreseen"
    )
    sys.stdout.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def known_refusals(
    cache: ResponseCache | None, shared_limits: RedisLimits | None = None
) -> dict[tuple[str, str], int]:
    """The endpoints and models (`CallPath.n_key`) recorded as refusing ``n``, with the
    most samples a request may ask of them, read where a run reads them: the cache file
    (none before it exists: an estimate writes nothing) and the Redis server of the shared
    limits (read once, its connection closed after).

    Raises:
        ConfigError: the cache file cannot be read, or the Redis server cannot be reached.
    """
    found: dict[tuple[str, str], int] = {}
    if cache is not None and cache.path is not None and cache.path.exists():
        found.update(cache.refusals())
    if shared_limits is not None:

        async def read() -> dict[tuple[str, str], int]:
            try:
                return await shared_limits.refusals()
            finally:
                await shared_limits.aclose()

        for key, most in run_async(read).items():
            found[key] = min(most, found.get(key, most))
    return found


def _caps_reached(figures: Mapping[str, Any], args: argparse.Namespace) -> list[str]:
    """The budget options the expected spend would reach: the run stops there (a sentence
    each, with about how many prompts it answers first)."""
    prompts = int(figures["prompts"])
    said = []
    options = (
        ("--max-calls", getattr(args, "max_calls", None), "calls"),
        ("--max-total-tokens", getattr(args, "budget_tokens", None), "tokens"),
        ("--max-cost", getattr(args, "max_cost", None), "estimated_cost_usd"),
    )
    for option, cap, name in options:
        low, high = figures[name]
        if cap is None or not prompts or high <= cap:
            continue
        per_prompt = figures["central"][name] / prompts
        answered = min(prompts, int(cap // per_prompt)) if per_prompt else prompts
        expected = f"{low:g}" if low == high else f"{low:g} to {high:g}"
        said.append(
            f"{option} {cap} is below the expected {expected}: the run stops after about "
            f"{answered} of {prompts} prompts"
        )
    return said


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


def check_budget_fits(architecture: Architecture, args: argparse.Namespace) -> None:
    """Refuse, before any call, a ``--max-cost`` on models with no list price (it could
    never stop anything), and a ``--max-calls`` below the calls one prompt makes at the
    least (`least_calls`: its generators' and fusers' samples, a ranker's call). A budget is checked
    when a prompt starts and a started prompt finishes, so such a cap would either answer
    nothing or be silently overrun. With ``--cache`` too: a batch reserves a prompt's least
    before it starts, whatever its hits turn out to be (`archon_async._batch_budget`).

    Raises:
        UsageError: a cost cap on unpriced models, or a calls cap below one prompt's
            calls; it says what works.
    """
    max_cost = getattr(args, "max_cost", None)
    if max_cost is not None:
        unpriced = unpriced_models(architecture)  # at list prices, as --max-cost counts
        if unpriced:
            raise UsageError(
                f"--max-cost {max_cost:g} cannot cap this run: {', '.join(unpriced)} "
                f"{'has' if len(unpriced) == 1 else 'have'} no list price "
                "(archon_async/_pricing.py), so its calls cost the budget nothing; cap "
                "it with --max-calls or --max-total-tokens instead"
            )
    if args.max_calls is None:
        return
    from ._batch_budget import least_calls

    least = least_calls(architecture)
    if args.max_calls < least:
        raise UsageError(
            f"--max-calls {args.max_calls} is below the {least} calls one prompt of "
            f"{architecture.name!r} makes at the least (--estimate shows the range): no "
            f"prompt could finish within it; give --max-calls {least} or more"
        )


def budget_overrun(budget: Budget | None) -> str | None:
    """What a finished run spent past its caps, as a sentence, or None (for ``run``: a cap
    reached mid-prompt does not stop the prompt)."""
    if budget is None:
        return None
    spent = budget.spent()
    over = [
        f"{flag} {cap:g} ({used:g} used)"
        for flag, cap, used in _caps(budget, spent.calls, spent.tokens, spent.cost_usd)
        if cap is not None and used > cap
    ]
    if not over:
        return None
    return (
        f"over {', '.join(over)}: a budget is checked when a prompt starts, and a started "
        "prompt finishes"
    )


def stopped_fields(
    error: BatchStoppedError, args: argparse.Namespace, *, retry_errors: bool = True
) -> dict[str, Any]:
    """The summary's account of a stopped batch: ``stopped`` (what stopped it, what
    finished, what did not start), ``not_started`` and, for a budget, ``resume``: the
    exact command that answers the rest (with caps raised where the rest needs more)."""
    from ._batch import count_of

    fields: dict[str, Any] = {"stopped": str(error), "not_started": error.not_started}
    if str(getattr(args, "output", None)) == "-" and error.stats is not None:
        # Standard output keeps no record to resume from: the same command would ask every
        # prompt again (and pay for the finished ones twice), so none is offered.
        if error.provider_down:
            fields["provider_down"] = error.provider_down
        on_budget = " on its budget" if getattr(error, "budget", None) is not None else ""
        fields["stopped"] = (
            f"the batch stopped{on_budget}: {error.reason}; no prompt started after that, "
            f"and the prompts in flight finished. This run answered "
            f"{count_of(error.stats.answered, 'prompt')} and recorded "
            f"{count_of(error.stats.failed, 'failure')}; "
            f"{count_of(error.not_started, 'prompt')} did not start. Its answers went to "
            "standard output (--output -), which keeps no record to resume from: the same "
            "command would ask every prompt again, so give --output FILE for a batch that "
            "resumes (or --input only the prompts left)"
        )
        return fields
    if error.provider_down:
        fields["provider_down"] = error.provider_down
        fields["resume"] = rerun_command(args)
    budget = getattr(error, "budget", None)
    stats = error.stats
    if budget is None or stats is None:
        return fields
    done = stats.answered + stats.failed
    rest = error.not_started + (stats.failed if retry_errors else 0)
    spent = budget.spent()
    # Cached prompts cost nothing: the rest is priced as the prompts that were sent, each
    # hit counted as the call it saved (10 cached prompts beside 2 sent ones said a tenth).
    uncached = (spent.calls + spent.cache_hits) / spent.calls if spent.calls else 1.0
    new: dict[str, str] = {}
    for flag, cap, used in _caps(budget, spent.calls, spent.tokens, spent.cost_usd):
        if cap is None:
            continue
        # What the rest needs at this run's rate per prompt, plus a tenth for the spread.
        need = used * uncached / done * rest * 1.1 if done else cap * 2
        if flag == "--max-cost":
            new[flag] = f"{max(cap, math.ceil(need * 100) / 100):.2f}"
        else:
            new[flag] = str(max(int(cap), math.ceil(need)))
    command = rerun_command(args, new)
    fields["resume"] = command
    fields["stopped"] = (
        f"the budget stopped the batch: {error.reason or budget.exceeded()}; no "
        "prompt started after that, and the prompts in flight finished. This run "
        f"answered {count_of(stats.answered, 'prompt')} and recorded "
        f"{count_of(stats.failed, 'failure')}; {count_of(error.not_started, 'prompt')} did "
        "not start. Each run's "
        f"budget starts from zero and finished prompts are not asked again: to answer the "
        f"{rest} left, run: {command}"
    )
    if ":***@" in command:
        fields["stopped"] += f" ({_PASSWORD_HIDDEN})"
    return fields


def rerun_command(args: argparse.Namespace, new: Mapping[str, str] | None = None) -> str:
    """The command line that runs this command again as the user ran it (`invoked_as`),
    with each option of ``new`` set to its value. A URL's password (``--shared-limits
    redis://user:PASSWORD@host``, ``--base-url``) is shown as ``***`` (`_PASSWORD_HIDDEN`):
    the command is printed, and kept in summary files."""
    arguments = _with_options(getattr(args, "command_line", []), new or {})
    return f"{invoked_as()} {shlex.join(_without_password(word) for word in arguments)}"


#: Said beside a printed command whose URL lost its password (`rerun_command`).
_PASSWORD_HIDDEN = "a URL's password is shown as ***: put it back"


def _without_password(word: str) -> str:
    """``word`` (a URL, or ``--option=URL``) with the URL's password replaced by ``***``."""
    if "://" not in word or "@" not in word:
        return word
    option, equals, url = word.partition("=") if word.startswith("-") else ("", "", word)
    try:
        if urllib.parse.urlsplit(url).password is None:
            return word
    except ValueError:
        return word
    return f"{option}{equals}{redacted_url(url)}"


def invoked_as() -> str:
    """The words that run this command again in the user's shell, as it was run: the bare
    ``archon-async`` only where that name finds this very program (a virtual environment
    not activated: ``.venv/bin/archon-async``, the path it was called by), ``python -m
    archon_async.cli`` as that. A resume command that names a program the shell cannot
    find cannot be run as printed."""
    called = sys.argv[0] if sys.argv else ""
    name = os.path.basename(called)
    if name == "archon-async":
        found = shutil.which(name)
        if found is not None and os.path.realpath(found) == os.path.realpath(called):
            return name
        return shlex.quote(called)
    if os.path.dirname(called).endswith("archon_async") and name in ("cli.py", "__main__.py"):
        module = "archon_async.cli" if name == "cli.py" else "archon_async"
        return f"{shlex.quote(sys.executable)} -m {module}"
    return "archon-async"


def _caps(
    budget: Budget, calls: float, tokens: float, cost: float
) -> list[tuple[str, float | None, float]]:
    return [
        ("--max-calls", budget.max_calls, calls),
        ("--max-total-tokens", budget.max_tokens, tokens),
        ("--max-cost", budget.max_cost_usd, cost),
    ]


def _with_options(arguments: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """``arguments`` with each option of ``values`` set to its value (added if absent)."""
    result: list[str] = []
    given: set[str] = set()
    skip = False
    for argument in arguments:
        if skip:
            skip = False
            continue
        flag = argument.split("=", 1)[0]
        if flag in values:
            result += [flag, values[flag]]
            given.add(flag)
            skip = "=" not in argument
            continue
        result.append(argument)
    for flag, value in values.items():
        if flag not in given:
            result += [flag, value]
    return result
