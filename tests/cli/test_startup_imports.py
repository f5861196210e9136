"""The command's start-up loads only what a batch or a run needs, and the names imported
lazily (benchmarks, the version) still resolve as before.

A fully cached rerun of a batch is mostly the interpreter starting and importing: every
module left out of it is time saved on each invocation (bench/RESULTS.md, issue 12).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys

import pytest

import archon_async
import archon_async.benchmarks as benchmarks

#: Modules the CLI's start-up (imports and every subcommand's parser) must not load.
NOT_AT_STARTUP = (
    "tqdm",  # the live bar: only on a terminal
    "archon_async.benchmarks.writers",
    "archon_async.benchmarks._registry",
    "archon_async.benchmarks._scoring",
    "archon_async.benchmarks.sandbox",
    "archon_async.callpath._estimate",  # only for --estimate
    "httpx",  # the providers' client: built on the first request sent
    "structlog",  # only when the application loaded it (see archon_async._logging)
    "aiohttp",
    "aiolimiter",  # the request buckets: built with the first rate to keep
    "archon_async.search",
    "archon_async.serve",
    "numpy",
    "optuna",
    "starlette",
    "uvicorn",
)


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """``python -c CODE`` in a fresh process (its own imports and collector); it must succeed."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )


def test_cli_startup_leaves_out_what_a_batch_does_not_use() -> None:
    code = (
        "import sys\n"
        "import archon_async.cli as cli\n"
        "cli._parser()\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    done = _python(code)
    loaded = set(done.stdout.split())
    assert "archon_async.cli" in loaded  # the probe ran
    assert "archon_async.benchmarks._formats" in loaded  # the batch parser's choices
    assert sorted(name for name in NOT_AT_STARTUP if name in loaded) == []


@pytest.mark.parametrize("name", benchmarks.__all__)
def test_every_benchmarks_name_resolves_to_its_module_object(name: str) -> None:
    value = getattr(benchmarks, name)
    module = importlib.import_module(benchmarks._MODULES[name], benchmarks.__name__)
    assert value is getattr(module, name)
    assert name in dir(benchmarks)


def test_benchmarks_star_import_and_unknown_name() -> None:
    namespace: dict[str, object] = {}
    exec("from archon_async.benchmarks import *", namespace)
    assert set(benchmarks.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="no attribute 'get_benchmarks'"):
        benchmarks.get_benchmarks  # noqa: B018  (a misspelling is still an error)


def test_version_is_the_installed_distributions() -> None:
    assert archon_async.__version__ == importlib.metadata.version("archon-async")
    from archon_async import __version__

    assert __version__ == archon_async.__version__
    with pytest.raises(AttributeError, match="no attribute 'Engines'"):
        archon_async.Engines  # type: ignore[attr-defined]  # noqa: B018


def test_the_program_freezes_its_import_time_objects_a_caller_keeps_its_collector() -> None:
    code = (
        "import gc, sys\n"
        "from archon_async.cli import main\n"
        "main(['validate', 'default'])\n"
        "print('frozen', gc.get_freeze_count())\n"
        "sys.argv = ['archon-async', 'validate', 'default']\n"
        "main()\n"
        "print('frozen', gc.get_freeze_count())\n"
    )
    done = _python(code)
    counts = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("frozen")]
    by_caller, by_program = (int(count) for count in counts)
    assert by_caller == 0  # a test or an application calling main() keeps its collector
    assert by_program > 1000  # the command itself: the modules' objects are frozen


@pytest.mark.parametrize("enabled", [True, False])
def test_importing_the_package_leaves_the_collector_as_the_importer_had_it(enabled: bool) -> None:
    # The collector is paused while the package imports (57 young and 6 middle collections
    # before, finding little; one may still run as the package's own module is loaded);
    # the importer's choice holds after, either way.
    code = (
        "import gc\n"
        f"{'gc.enable()' if enabled else 'gc.disable()'}\n"
        "before = [stats['collections'] for stats in gc.get_stats()]\n"
        "import archon_async\n"
        "after = [stats['collections'] for stats in gc.get_stats()]\n"
        "print(gc.isenabled(), sum(after) - sum(before) <= 2)\n"
    )
    done = _python(code)
    assert done.stdout.split() == [str(enabled), "True"]


def test_the_command_keeps_the_collector_off_from_its_imports_until_it_froze_them() -> None:
    # Turned back on as the package's import ends, the collector's first collection walked
    # every object the imports made (a twelfth of the start-up); the command turns it on
    # once main() has frozen them, before it does anything else.
    code = (
        "import gc, sys\n"
        "sys.argv = ['/somewhere/bin/archon-async', 'validate', 'default']\n"
        "import archon_async.cli as cli\n"
        "print('imported', gc.isenabled())\n"
        "seen = []\n"
        "dispatch = cli._dispatch_command\n"
        "def watched(*args):\n"
        "    seen.append((gc.isenabled(), gc.get_freeze_count() > 1000))\n"
        "    return dispatch(*args)\n"
        "cli._dispatch_command = watched\n"
        "status = cli.main()\n"
        "print('running', *seen[0], status)\n"
    )
    done = _python(code)
    assert done.stdout.splitlines()[0] == "imported False"
    assert done.stdout.splitlines()[-1] == "running True True 0"
