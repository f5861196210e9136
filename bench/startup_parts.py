"""What the command's start-up CPU is made of: the interpreter, the standard library it uses,
pydantic with the two config models, and the rest (issue 12, the cached rerun).

    .venv/bin/python bench/startup_parts.py [--runs 15] [--python PATH/TO/.venv/bin/python]

Four kinds of process, each started ``--runs`` times, round-robin (so that they share the
machine's load), each measured by the kernel's CPU accounting (user + system):

* ``interpreter``: ``python -c pass`` (the interpreter and ``site``, with the editable
  install's import hook);
* ``stdlib``: the standard modules the command imports anyway (asyncio, sqlite3, argparse,
  logging, hashlib, importlib.metadata: aiolimiter reads its version through it), with the
  garbage collector paused as the package's imports pause it;
* ``stdlib + pydantic``: the same, then pydantic and our two config models
  (``archon_async/_config.py`` executed on its own, with ``ConfigError`` stood in by
  ``ValueError`` and its other imports of the package by a function that does nothing, so
  that nothing else of the package is imported), one component and one
  provider's settings validated, as loading an architecture does;
* ``command``: the command's imports and parsers (``import archon_async.cli``, its
  ``_parser()``), the start-up probe of bench/cached_cli_bench.py.

The medians' differences say what pydantic costs the command (``stdlib + pydantic`` minus
``stdlib``: its import, the two models' core schemas, its plugin scan) and what the rest
costs (``command`` minus ``stdlib + pydantic``: our package, anyio, orjson, filelock,
aiolimiter). Children run with bytecode caching on and ``PYTHONSAFEPATH=1``, as in
bench/cached_cli_bench.py; the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

# With the collector paused, as the package pauses it around its imports (archon_async/__init__).
STDLIB = (
    "import gc; gc.disable()\n"
    "import asyncio, sqlite3, argparse, logging, hashlib, importlib.metadata"
)

#: The config models alone: _config.py's own source, its imports of the package stood in
#: (ConfigError by ValueError, the helpers by a function that does nothing).
PYDANTIC = """
import re, sys, types
path = sys.argv[1]
source = open(path).read().replace(
    "from ._exceptions import ConfigError", "ConfigError = ValueError"
)
source = re.sub(r"^from \\.\\w+ import (\\w+)$", r"\\1 = lambda *a, **k: None", source, flags=re.M)
module = types.ModuleType("config_alone")
sys.modules["config_alone"] = module
exec(compile(source, path, "exec"), module.__dict__)
module.ComponentSpec.model_validate({"type": "generator", "model": "m", "model_type": "X"})
module.ProviderSettings()
"""

COMMAND = "import archon_async.cli as cli; cli._parser()"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's environment caches bytecode
    env["PYTHONSAFEPATH"] = "1"  # the interpreter's own tree, never the working directory's
    return env


def cpu_of(command: list[str]) -> float:
    """CPU seconds (user + system) of one process running ``command`` to its end.

    Raises:
        SystemExit: the process failed.
    """
    process = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL, cwd="/")
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    return usage.ru_utime + usage.ru_stime


def main(options: argparse.Namespace) -> None:
    python = str(options.python)
    config = subprocess.run(
        [python, "-c", "import archon_async._config as c; print(c.__file__)"],
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    ).stdout.strip()
    kinds = {
        "interpreter": [python, "-c", "pass"],
        "stdlib": [python, "-c", STDLIB],
        "stdlib + pydantic": [python, "-c", f"{STDLIB}\n{PYDANTIC}", config],
        "command": [python, "-c", COMMAND],
    }
    cpu: dict[str, list[float]] = {name: [] for name in kinds}
    load_before = os.getloadavg()[0]
    for _ in range(options.runs):
        for name, command in kinds.items():
            cpu[name].append(cpu_of(command))
    median = {name: statistics.median(runs) * 1000 for name, runs in cpu.items()}
    print(
        f"{python}; load average before {load_before:.1f}, after {os.getloadavg()[0]:.1f}; "
        f"CPU ms, medians of {options.runs}"
    )
    for name, value in median.items():
        print(f"  {name:18} {value:6.0f}")
    pydantic = median["stdlib + pydantic"] - median["stdlib"]
    rest = median["command"] - median["stdlib + pydantic"]
    print(
        f"  pydantic and the two models: {pydantic:.0f} ms "
        f"({100 * pydantic / median['command']:.0f}% of the command's start-up); "
        f"the package and its other dependencies: {rest:.0f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--python", type=Path, default=Path(sys.executable))
    main(parser.parse_args())
