"""``archon-async search``: the architecture search (ITAS) over a search file."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ._cli_common import positive_float, positive_int, run_async
from ._config import ConfigWarning
from ._exceptions import ConfigError
from ._pricing import usd_text
from ._words import plural

if TYPE_CHECKING:
    from .search import Search

__all__ = ["add_search_command"]


def add_search_command(commands: Any) -> None:
    """Add the ``search`` sub-command to the CLI."""
    search = commands.add_parser(
        "search",
        help="search for the best architecture (ITAS) over an Archon search file",
        description="Evaluates architectures of the space the search file describes and "
        "writes best.json, leaderboard.jsonl, pareto.json/svg, report.json and report.html "
        "in the run directory. Rerun the same command to resume a stopped search.",
        epilog="Each --budget-* overrides the file's archon_async.budget setting of that name. "
        "exit status: 0 when the planned evaluations are done; 1 when a budget "
        "(--budget-*) stopped the search (report.json's stopped_by names it; the outputs are "
        "written: rerun with a larger budget to go on), or on an error; 2 on a usage error; "
        "130 when interrupted (rerun the same command to resume).",
    )
    _add_space_options(search)
    _add_run_options(search)
    _add_spend_options(search)
    search.set_defaults(handler=_search)


def _add_space_options(search: argparse.ArgumentParser) -> None:
    """What is searched: the search file, the benchmark and its data, the algorithm."""
    search.add_argument("space", type=Path, help="an Archon search configuration (JSON)")
    search.add_argument(
        "--benchmark",
        metavar="NAME",
        help="overrides the file's benchmark (archon-async batch --list-benchmarks lists "
        "them; Archon's arena_hard_auto is arena_hard)",
    )
    search.add_argument(
        "--data",
        type=Path,
        metavar="PATH",
        help="the benchmark's data where it is not shipped (math, alpaca_eval, mixeval, "
        "code_contests), as for bench",
    )
    search.add_argument(
        "--algorithm",
        metavar="NAME",
        help="overrides the file's search_algorithm_choice: grid_search, random_search, "
        "greedy_search, tpe (Archon's bayesian_optimization), gaussian_process (needs torch "
        "and scipy), slice_search",
    )


def _add_run_options(search: argparse.ArgumentParser) -> None:
    """Where and how a search runs: run directory, seed, simulation, estimate."""
    search.add_argument(
        "--run-dir",
        type=Path,
        metavar="DIR",
        help="where the record and outputs go (default: the file's archon_async.run_dir, "
        "else base_output_directory/STEM, else STEM.search, STEM the file's name)",
    )
    search.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="seeds every random choice (0 to 4294967295; default: 0)",
    )
    search.add_argument(
        "--simulate",
        action="store_true",
        help="call the simulated provider, whose replies follow a seeded ground truth "
        "(nothing is paid; the outputs say SIMULATED)",
    )
    search.add_argument(
        "--oracle", action="store_true", help="with --simulate: exact expected scores, no calls"
    )
    search.add_argument(
        "--estimate",
        action="store_true",
        help="print the expected calls, tokens and dollars (JSON, a range) and stop, "
        "before any call",
    )


def _add_spend_options(search: argparse.ArgumentParser) -> None:
    """What a search may spend: architectures at once and in all, keys, budgets."""
    search.add_argument(
        "--parallel",
        type=positive_int,
        metavar="N",
        help="architectures evaluated at once (default: the file's archon_async.parallel, 4)",
    )
    search.add_argument(
        "--evaluations",
        type=positive_int,
        metavar="N",
        help="architectures to evaluate at most (default: the file's archon_async.evaluations, "
        "else Archon's random_search_iterations (random_search), init_points + n_iter (tpe, "
        "gaussian_process, slice_search) or search_iterations (greedy_search), "
        "else the whole space: refused above 100 architectures unless --oracle or a "
        "--budget-* bounds it)",
    )
    search.add_argument("--keys", type=Path, metavar="PATH", help="a JSON key file (real runs)")
    # Over every run of the search (a resumed one goes on from what the earlier runs sent);
    # each overrides the file's archon_async.budget setting of that name.
    over = "over every run of the search, by at most the calls in flight"
    for name, kind, metavar, cap in (
        ("calls", positive_int, "N", "a hard cap on the calls sent over every run of the "
         "search: none beyond N"),
        ("tokens", positive_int, "N", f"stop sending at N tokens, {over}"),
        ("dollars", positive_float, "USD", f"stop sending at USD list-price dollars, {over}"),
        ("architectures", positive_int, "N", "stop after N architectures evaluated"),
        ("wall-time-s", positive_float, "SECONDS", "stop starting evaluations after SECONDS "
         "of this run"),
    ):  # fmt: skip
        search.add_argument(f"--budget-{name}", type=kind, metavar=metavar, help=cap)
    search.add_argument("--quiet", action="store_true", help="no progress lines")


def _search(args: argparse.Namespace) -> int:
    search = _search_from_args(args)
    if args.estimate:
        sys.stdout.write(orjson.dumps(search.estimate(), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
        return 0
    report = _run_search(search, args)
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stderr.write(f"[search: outputs in {search.run_dir}]\n")
    if report.get("stopped_by"):
        sys.stderr.write(_resume_line(args, search, report))
    # As `batch` does: a search a budget stopped exits 1 (its outputs are all written).
    return 1 if report.get("stopped_by") else 0


def _search_from_args(args: argparse.Namespace) -> Search:
    """The `Search` the command line describes: the space file's budget with each
    ``--budget-*`` given put in its place.

    Raises:
        ConfigError: a module of the search extra (optuna, numpy) is not installed.
    """
    try:
        from .search import Budget, Search, load_search_file
    except ImportError as exc:
        if (exc.name or "").startswith("archon_async"):
            raise  # our own module: a broken install, not a missing extra
        raise ConfigError(
            f"the search needs the search extra ({exc.name} is missing): "
            "pip install 'archon-async[search]'"
        ) from None

    with warnings.catch_warnings():  # said once, as the search loads the file again
        warnings.simplefilter("ignore", ConfigWarning)
        settings, _ = load_search_file(args.space)
    overrides = {
        "calls": args.budget_calls,
        "tokens": args.budget_tokens,
        "dollars": args.budget_dollars,
        "architectures": args.budget_architectures,
        "wall_time_s": args.budget_wall_time_s,
    }
    budget = settings.archon_async.budget.model_copy(
        update={k: v for k, v in overrides.items() if v is not None}
    )
    return Search(
        args.space,
        benchmark=args.benchmark,
        data=args.data,
        algorithm=args.algorithm,
        run_dir=args.run_dir,
        seed=args.seed,
        simulate=args.simulate,
        oracle=args.oracle,
        budget=Budget.model_validate(budget.model_dump()),
        parallel=args.parallel,
        evaluations=args.evaluations,
        keys=args.keys,
    )


def _run_search(search: Search, args: argparse.Namespace) -> dict[str, Any]:
    """Run the search to its report, its progress on standard error unless ``--quiet``.
    A provider outage or Ctrl-C is raised again after saying how to resume."""
    from ._cli_callpath import rerun_command
    from .search._failures import ProviderOutageError

    async def go() -> dict[str, Any]:
        async for event in search.events():
            if not args.quiet:
                _progress(event)
        assert search.result is not None
        return search.result

    kept = f"[search: stopped; the run directory {search.run_dir} keeps what was done: "
    try:
        report: dict[str, Any] = run_async(go)
    except ProviderOutageError:  # said as an error; the same command goes on
        sys.stderr.write(
            f"{kept}once the provider answers (or the cause is fixed), resume with the same "
            f"command: {rerun_command(args)}]\n"
        )
        raise
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the record keeps every finished evaluation
        sys.stderr.write(f"{kept}to resume, run the same command again: {rerun_command(args)}]\n")
        raise
    return report


# Each budget's option (report.json's stopped_by names the budget: "budget: calls (...)").
_BUDGET_OPTIONS = {
    "calls": "--budget-calls",
    "tokens": "--budget-tokens",
    "dollars": "--budget-dollars",
    "architectures": "--budget-architectures",
    "wall_time_s": "--budget-wall-time-s",
}


def _resume_line(args: argparse.Namespace, search: Search, report: dict[str, Any]) -> str:
    """The command that goes on after a budget stop, as a stopped batch prints its own:
    the same command with the budget that stopped it raised (calls, tokens and dollars
    count every run of the search, so the same cap would stop it at once)."""
    from ._cli_callpath import rerun_command

    name = str(report["stopped_by"]).removeprefix("budget: ").split(" ", 1)[0]
    option, cap = _BUDGET_OPTIONS.get(name), getattr(search.budget, name, None)
    kept = f"the run directory {search.run_dir} keeps what was done"
    if option is None or cap is None:
        return f"[search: {kept}: run the same command again to go on]\n"
    if name == "wall_time_s":  # counted from each start: the same command goes on
        return f"[search: {kept}: to go on, run the same command again: {rerun_command(args)}]\n"
    raised: float = cap * 2
    if name == "architectures":  # up to what the search plans, where it plans an end
        raised = min(search.evaluations, report.get("space_size") or raised)
        raised = raised if raised > cap else cap * 2
    value = f"{raised:g}" if name == "dollars" else str(int(raised))
    command = rerun_command(args, {option: value})
    return (
        f"[search: {kept}: to go on, rerun with a larger budget: {command}]\n"
        f"[search: the same command with --estimate says what the rest is expected to spend]\n"
    )


#: What an evaluated line says in place of the spend where scores need no call.
_NO_CALLS = {
    "oracle": "oracle: exact expected scores, no calls",
    "sampled": "sampled from the simulated ground truth, no calls",
}


def _spent(spent: dict[str, Any]) -> str:
    return (
        f"spent {spent['calls']:,} calls, {spent['tokens']:,} tokens, {usd_text(spent['dollars'])}"
    )


def _progress(event: Any) -> None:
    data = event.data
    if event.kind == "evaluated":
        planned = data["planned"]
        of = f"/{planned}" if planned < 10**9 else ""
        # An oracle's and a sampled search's scores come from the ground truth: no calls.
        spent = _NO_CALLS.get(data.get("mode", "")) or _spent(data["spent"])
        sys.stderr.write(
            f"[{data['evaluated']}{of}] {data['key']}: {data['score']:.2f} "
            f"(best so far {data['best_key']}: {data['best_objective']:.2f}; {spent})\n"
        )
    elif event.kind == "ranking":
        where = f"[ranking {data['done']}/{data['of']}]"
        if "model" not in data:
            questions = plural(data["questions"], "question")
            sys.stderr.write(f"{where} each model alone on {questions}\n")
        else:
            sys.stderr.write(
                f"{where} {data['name']}: {data['score']:.2f} ({_spent(data['spent'])})\n"
            )
    elif event.kind == "raced":
        spent = f" ({_spent(data['spent'])})" if data["spent"] else ""
        sys.stderr.write(
            f"[racing] {plural(data['leaders'], 'leader')} re-evaluated on "
            f"{plural(data['questions'], 'more question')}{spent}\n"
        )
    elif event.kind == "final_scored":
        # The score is on the questions none of the finalists had answered when chosen.
        fresh, answered = data["fresh_questions"], data["questions"]
        on, dev = plural(answered, "selection question"), f"dev {data['dev_score']:.2f}"
        if fresh < answered:
            on = f"{plural(fresh, 'question')} new to the finalists"
            dev = f"{answered:,} answered in all; {dev}"
        # Counted among those racing in the stage: the plan's count over every stage
        # ("done" of "of") overstates a race the share or the halving cuts.
        sys.stderr.write(
            f"[final ranking: stage {data['stage']}, finalist {data['place']} of "
            f"{data['racing']}] {data['key']}: {data['score']:.2f} on {on} ({dev})\n"
        )
    elif event.kind == "ranked":
        sys.stderr.write(f"[ranking] {', '.join(data['names'])}\n")
    elif event.kind == "stopped":
        sys.stderr.write(f"[stopped] {data['reason']}\n")
    elif (
        event.kind == "finished"
        and (data.get("racing") or {}).get("limited")
        and not data.get("stopped_by")
    ):
        # The race ended before its plan's last stage: say why, rather than leave the
        # reader to wonder why it stopped there. A budget stop has said why
        # already ("[stopped] budget: ..."): raising the share would not race further.
        racing = data["racing"]
        sys.stderr.write(
            f"[racing] stopped at its share: {racing['calls']:,} calls, "
            f"{racing['share']:.2f} times the evaluations' (racing.max_share "
            f"{racing['max_share']:g}; raise it in the search file to race further)\n"
        )
