"""The ``archon-async`` command: run, batch, validate, simulate."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from ._architecture import Architecture, is_reward_model
from ._cli_common import (
    TERMINATED,
    UsageError,
    cancel_main,
    nonnegative_float,
    positive_int,
    run_async,
    temperature,
)
from ._cli_start import end_guard, release_collector
from ._config import ConfigWarning
from ._defaults import DEFAULT_ARCHITECTURE
from ._engine import Engine
from ._exceptions import ArchonError, ConfigError

__all__ = ["main"]


#: The exit statuses, as --help and the README list them.
EXIT_CODES = """exit status:
  0    done (every prompt answered)
  1    an error (bad config, no key, provider failure), or a batch or search
       stopped early (a budget): its outputs are written, rerun to go on
  2    usage error (missing or wrong arguments)
  3    the batch finished, but some prompts failed (see their error lines)
  130  interrupted (Ctrl-C); a batch prints its summary first
  143  terminated (SIGTERM); a batch prints its summary first"""


#: New objects between two young collections in the command's process (Python's: 700).
YOUNG_COLLECTION_THRESHOLD = 20_000


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``archon-async`` command; returns the exit status."""
    try:
        end_guard()  # Ctrl-C is a KeyboardInterrupt from here on: caught below, or by a command
        return _main(argv)
    except KeyboardInterrupt:
        return _interrupted()


def _main(argv: Sequence[str] | None) -> int:
    if argv is None:  # the program itself (not a caller passing arguments): see below
        # The objects the imports made live as long as the process: kept out of the
        # garbage collector's walks, the run's collections and the one at exit cost a
        # fifth (a cached rerun of 1,000 prompts: 0.86 s of CPU -> 0.70 s; RESULTS.md).
        gc.freeze()
        # A batch keeps each call's objects alive while it is in flight: at the default
        # threshold (700 new objects) a young collection finds them alive, walks them and
        # moves them on, to be walked again. After 20,000 most have died: 6.5 % fewer
        # instructions a call, the collector's share of them gone (callgrind, bench
        # measure 3; bench/RESULTS.md, "Measure 3, ninth pass"). Set for the command's own
        # process only, as the freeze: a library leaves its host's collector alone.
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
    release_collector()  # kept off by the package's import in the command's process
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["simulate"]:
        # Everything after "simulate" belongs to the simulator's own parser.
        from .simulate.__main__ import main as simulate_main

        return int(simulate_main(arguments[1:]) or 0)
    parser = _parser()
    args, extra = parser.parse_known_args(arguments)
    options = [word for word in extra if word.startswith("-") and word != "-"]
    if extra and not options and getattr(args, "handler", None) is _run:
        # `run CONFIG --trace "QUESTION"`: argparse stops a "+" positional at the first
        # option and leaves the words after it over; they are the rest of the positional.
        args.args.extend(extra)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(options or extra)}")
    args.command_line = arguments  # for the command a stopped batch says to resume with
    # A kill (SIGTERM) unwinds like Ctrl-C, so that a batch still prints what it spent.
    previous = signal.signal(signal.SIGTERM, _terminate)
    TERMINATED.clear()
    try:
        return _dispatch_command(parser, args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminate(signum: int, frame: Any) -> None:
    TERMINATED.set()
    if cancel_main():  # a command on the event loop unwinds from the loop's next step
        return
    # Inside asyncio.run (anyio.run) SIGINT's handler is the runner's: it cancels the main
    # task, so every task group unwinds and the run ends in KeyboardInterrupt. Raised here,
    # it would land in whichever task was running and the loop's shutdown print a traceback.
    interrupt = signal.getsignal(signal.SIGINT)
    if callable(interrupt) and interrupt is not signal.default_int_handler:
        interrupt(signal.SIGINT, frame)
        return
    raise KeyboardInterrupt


def _dispatch_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    _configure_logging(getattr(args, "verbose", 0))
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except UsageError as exc:
        sys.stderr.write(f"archon-async: error: {exc}\n")
        return 2
    except ArchonError as exc:
        from ._batch_answer import describe_error

        # A failed layer is a group: its first cause is what the user can act on.
        message = describe_error(exc) if isinstance(exc, BaseExceptionGroup) else str(exc)
        message = getattr(exc, "cli_message", None) or message
        sys.stderr.write(f"archon-async: {message}\n")
        return 1
    except KeyboardInterrupt:
        return _interrupted()


def _interrupted() -> int:
    """Say that a KeyboardInterrupt (Ctrl-C, or SIGTERM) stopped the command; its status."""
    if TERMINATED.is_set():
        sys.stderr.write("archon-async: terminated\n")
        return 143
    sys.stderr.write("archon-async: interrupted\n")
    return 130


class _VersionAction(argparse.Action):
    """``--version``: the installed version, read only when asked for (see __init__)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("help", "show the version and exit")
        super().__init__(option_strings, argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        from . import __version__

        sys.stdout.write(f"archon-async {__version__}\n")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archon-async",
        description="Run Archon inference-time architectures on an asyncio engine.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v: info, -vv: every call)"
    )
    commands = parser.add_subparsers(title="commands")

    run = commands.add_parser(
        "run",
        help="answer one prompt",
        description="Answer one question with an architecture and print the answer.",
        # Not argparse's own line: for nargs="+" it reads "[CONFIG] QUESTION [[CONFIG]
        # QUESTION ...]", pairs the command refuses (one config, one question).
        usage="%(prog)s [options] [CONFIG] QUESTION",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "args",
        nargs="+",
        metavar="[CONFIG] QUESTION",
        help="an architecture JSON file or a shipped name such as 'default' or "
        "'archon/MoA-lite' (default: the built-in one, simulated), then the question "
        "('-' reads it from standard input)",
    )
    _add_engine_options(run)
    run.add_argument("--trace", action="store_true", help="print the trace as JSON on stderr")
    run.set_defaults(handler=_run)

    validate = commands.add_parser(
        "validate",
        help="check architecture (or search) files without calling anything",
        description="Check architecture files (or shipped names such as 'default' or "
        "'archon/MoA-lite') without calling anything; every problem of a file is reported. "
        "A search file is checked as `archon-async search` reads it.",
    )
    validate.add_argument(
        "configs", nargs="*", metavar="CONFIG", help="files or shipped names to check"
    )
    validate.add_argument(
        "--all", action="store_true", help="check every configuration shipped with the package"
    )
    validate.add_argument(
        "--all-archon",
        action="store_true",
        help="check every configuration published with Archon (shipped as archon/NAME)",
    )
    validate.set_defaults(handler=_validate)

    simulate = commands.add_parser(
        "simulate", help="serve the simulated provider (see python -m archon_async.simulate -h)"
    )
    simulate.add_argument("rest", nargs=argparse.REMAINDER, help="the simulator's options")

    from ._cli_batch import add_batch_command
    from ._cli_judge import add_judge_command

    add_batch_command(commands)
    add_judge_command(commands)
    from ._cli_serve import add_serve_command

    add_serve_command(commands)
    from ._cli_search import add_search_command

    add_search_command(commands)
    return parser


def _configure_logging(verbose: int) -> None:
    # The command is an application, so it (not the library) decides what is logged: warnings
    # by default, on stderr, leaving stdout to answers. The library's events reach the
    # standard logging module (see _logging).
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    library = logging.getLogger("archon_async")
    library.handlers = [handler]
    library.setLevel(level)
    library.propagate = False
    warnings.showwarning = _show_warning


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    # A configuration warning speaks to the user about their file: one plain line, not
    # Python's "path:line: Category: ..." with a line of library source.
    if issubclass(category, ConfigWarning):
        sys.stderr.write(f"archon-async: warning: {message}\n")
        return
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="answer with the in-process simulated provider (no API key needed); "
        "on by default with the built-in architecture",
    )
    parser.add_argument(
        "--simulate-url", metavar="URL", help="use a simulated provider already running at URL"
    )
    parser.add_argument(
        "--simulate-latency-ms",
        type=nonnegative_float,
        metavar="MS",
        help="latency of each simulated call (with --simulate)",
    )
    parser.add_argument(
        "--keys",
        metavar="FILE",
        type=Path,
        help='a JSON key file {"OPENAI_API_KEY": [...], ...}; default: environment',
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    real = parser.add_argument_group(
        "one model for every component",
        "Point every component of the architecture at one endpoint and model, e.g. a local "
        "llama-server, Ollama or vLLM: --base-url http://127.0.0.1:8080/v1 --model NAME.",
    )
    real.add_argument(
        "--base-url",
        metavar="URL",
        help="an OpenAI-compatible endpoint (model_type "
        "OpenAI_Compatible unless --model-type says otherwise; key: OPENAI_COMPATIBLE_API_KEY)",
    )
    real.add_argument("--model", metavar="NAME", help="the model every component asks for")
    real.add_argument(
        "--model-type", metavar="TYPE", help="the provider serving it (e.g. OpenAI_API)"
    )
    real.add_argument(
        "--max-tokens", type=positive_int, metavar="N", help="output limit of every call"
    )
    real.add_argument(
        "--temperature", type=temperature, metavar="T", help="temperature of every call (0-2)"
    )
    from ._cli_callpath import add_callpath_options

    add_callpath_options(parser)


def engine_from_args(
    config: Path | None,
    args: argparse.Namespace,
    *,
    answer_key: dict[str, str] | None = None,
    default: dict[str, Any] = DEFAULT_ARCHITECTURE,
    simulate_default: bool = True,
) -> Engine:
    """Build the engine a command's options describe (``default`` when no config is given,
    on the simulated provider unless ``simulate_default`` is False); an in-process simulated
    provider gets ``answer_key`` so that its models answer known questions with their
    configured skill."""
    if config is None:
        architecture = Architecture.from_dict(default, source="<built-in default>")
    else:
        architecture = Architecture.from_file(config)
    elsewhere = args.base_url or args.model_type
    if elsewhere and (args.simulate or args.simulate_url):
        raise UsageError("--base-url/--model-type and --simulate exclude each other")
    overrides = {
        "model": args.model,
        "model_type": args.model_type,
        "base_url": args.base_url,
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
    }
    if any(value is not None for value in overrides.values()):
        architecture = architecture.with_overrides(**overrides)
    # The built-in architecture runs simulated unless told where the real model is.
    simulate: Any = (
        args.simulate_url
        or args.simulate
        or (config is None and simulate_default and not elsewhere)
    )
    if simulate is True:
        from .simulate import SimulationSettings

        simulate = SimulationSettings(
            latency_s=(args.simulate_latency_ms or 0) / 1000, answer_key=answer_key or {}
        )
    from ._cli_callpath import (
        budget_from_args,
        cache_from_args,
        check_budget_fits,
        shared_limits_from_args,
    )

    # --estimate spends nothing: its caps are only reported. Otherwise a cap that cannot
    # work is refused in the command's own words, before the Engine refuses it too.
    budget = None if getattr(args, "estimate", False) else budget_from_args(args)
    if budget is not None:
        check_budget_fits(architecture, args)
    return Engine(
        architecture,
        keys=args.keys,
        seed=args.seed,
        simulate=simulate,
        cache=cache_from_args(args),
        budget=budget,
        shared_limits=shared_limits_from_args(args),
    )


def _run(args: argparse.Namespace) -> int:
    from ._cli_simulated import announce_simulated

    config, question = _run_arguments(args.args)
    engine = engine_from_args(config, args)
    if args.estimate:
        from ._cli_callpath import print_estimate

        return print_estimate(engine, [question], args)
    from ._cli_callpath import budget_overrun

    announce_simulated(engine, command="run", chosen=config is not None)

    async def answer() -> Any:
        async with engine:
            return await engine.generate(question)

    result = run_async(answer)
    sys.stdout.write(result.text.rstrip() + "\n")
    totals = result.trace.totals()
    hits = f", {totals['cache_hits']} cached" if totals["cache_hits"] else ""
    sys.stderr.write(
        f"[{engine.architecture.name}: {totals['calls']} calls{hits}, "
        f"{totals['input_tokens']} tokens in, {totals['output_tokens']} out, "
        f"{totals['elapsed_s']:.2f} s]\n"
    )
    overrun = budget_overrun(engine.budget)
    if overrun:
        sys.stderr.write(f"archon-async: {overrun}\n")
    if args.trace:
        sys.stderr.write(
            orjson.dumps(result.trace.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"
        )
    return 0


def _run_arguments(values: Sequence[str]) -> tuple[Path | None, str]:
    """The config (None: the built-in one) and the question of ``run``'s arguments.

    Raises:
        UsageError: too many arguments, a config given without a question, or no question.
    """
    if len(values) > 2:
        raise UsageError(
            "give at most a config and one question; quote a question of several words: "
            'archon-async run CONFIG "What is 17 * 23?"'
        )
    question = values[-1]
    if len(values) == 1 and _looks_like_config(question):
        raise UsageError(
            f"the question is missing: {question!r} is a config; give the question after it: "
            f'archon-async run {question} "your question" (or - to read it from standard input)'
        )
    if question == "-":
        question = sys.stdin.read()
    if not question.strip():
        raise UsageError("the question is empty")
    return (Path(values[0]) if len(values) == 2 else None), question


def _looks_like_config(value: str) -> bool:
    from ._shipped import find_shipped

    if len(value) > 1024 or "\n" in value:
        return False
    return value.endswith(".json") or Path(value).is_file() or find_shipped(value) is not None


def _is_search_file(path: str | Path) -> bool:
    """Whether ``path`` is a file holding an Archon search configuration (an object with
    ``model_top_k_choices`` or ``models_available``, which no architecture has)."""
    try:
        data = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return False
    return isinstance(data, dict) and bool({"model_top_k_choices", "models_available"} & set(data))


def _validate_search_file(path: Path) -> int:
    """`validate` of a search file: 1 when it is refused (the error said), else 0."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConfigWarning)
        try:
            from .search import load_search_file

            settings, models = load_search_file(path)
        except (ConfigError, ImportError) as exc:
            sys.stderr.write(f"error {exc}\n")
            return 1
    sys.stdout.write(
        f"ok {path}: a search file ({settings.benchmark or 'no benchmark'}, "
        f"{len(models)} models): archon-async search {path} --estimate checks its space "
        "and what it would spend\n"
    )
    for warning in caught:
        sys.stdout.write(f"  warning: {warning.message}\n")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from ._endpoints import check_base_urls, self_hosted_notes
    from ._shipped import shipped_config_names

    targets: list[str | Path] = list(args.configs)
    if args.all or args.all_archon:
        targets += shipped_config_names("" if args.all else "archon")
    if not targets:
        raise UsageError("name the files to check, or give --all / --all-archon")
    failed = 0
    for path in targets:
        if _is_search_file(path):  # checked as the search reads it, not as an architecture
            failed += _validate_search_file(Path(path))
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConfigWarning)
            try:
                architecture = Architecture.from_file(path)
            except ConfigError as exc:  # report it, then check the other files too
                sys.stderr.write(f"error {exc}\n")
                failed += 1
                continue
        # The file is valid; what the environment must still give to run it (a self-hosted
        # server's URL) is said, as for a PairRM backend, without failing the file: the
        # shipped Archon configs include a vLLM example that no environment here serves.
        needs: list[str] = []
        try:
            check_base_urls(
                architecture.layers,
                architecture.providers,
                architecture.registry,
                architecture.source,
            )
        except ConfigError as exc:
            needs.append(f"needs a base URL to run: {exc}")
        shape = " -> ".join(
            "+".join(f"{spec.type}x{spec.samples}" for spec in layer)
            for layer in architecture.layers
        )
        sys.stdout.write(f"ok {path}: {shape}\n")
        for warning in caught:
            sys.stdout.write(f"  warning: {warning.message}\n")
        for index, layer in enumerate(architecture.layers):
            for position, spec in enumerate(layer):
                if is_reward_model(spec):
                    sys.stdout.write(
                        f"  note: layers[{index}][{position}] ranks with {spec.model}, which "
                        "needs a scoring backend: PAIRRM_BASE_URL (a POST /score server) or "
                        "--simulate\n"
                    )
        for note in [*needs, *self_hosted_notes(architecture)]:
            sys.stdout.write(f"  note: {note}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
