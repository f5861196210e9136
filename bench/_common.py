"""Shared pieces of the benchmark: the simulated server process, client subprocesses, results.

Standard library only: bench/archon_ai_driver.py imports it from archon-ai's own virtual
environment, which has none of this project's dependencies.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
ARCHON_AI_PYTHON = BENCH / ".archon-ai-venv" / "bin" / "python"
# The simulated provider; overridable so the scripts can be tried against a stand-in server.
SERVER_MODULE = os.environ.get("BENCH_SERVER_MODULE", "archon_async.simulate")

# Architecture shapes by name: the shipped config each one stands for.
SHAPES = {
    "default": "configs/default.json",  # 10 samples -> ranker top 5 -> fuser: 12 calls, 3 layers
    "moa": "configs/moa_two_layers.json",  # 4 proposers -> 3 fusers -> 1 fuser: 8 calls, 3 layers
    "single": "configs/single_model.json",  # 1 call, 1 layer
}
CALLS_PER_PROMPT = {"default": 12, "moa": 8, "single": 1}
LAYERS = {"default": 3, "moa": 3, "single": 1}


def load_shape_config(shape: str) -> dict[str, Any]:
    """A shipped config with every component moved to the ``OpenAI_API`` model_type.

    archon-ai's Together_API generator posts to a hard-coded api.together.xyz URL (and
    sleeps 2 s before every call), so only its OpenAI_API generator can be pointed at the
    simulated server (through ``OPENAI_BASE_URL``). Both sides use OpenAI_API for fairness.
    """
    config = json.loads((ROOT / SHAPES[shape]).read_text())
    for layer in config["layers"]:
        for component in layer:
            component["model_type"] = "OpenAI_API"
    return config


# ---------------------------------------------------------------- client-side measurement


@dataclass
class Phase:
    """Wall time and CPU time (all threads of this process) of the measured phase."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    _t0: float = 0.0
    _c0: float = 0.0

    def __enter__(self) -> Phase:
        self._t0, self._c0 = time.perf_counter(), _cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._t0
        self.cpu_s = _cpu() - self._c0


def settle_heap() -> None:
    """What a long-running service does once it has started (README, "Inside applications"):
    collect, then move every object alive into the collector's permanent generation, so
    that the full collections of the measured phase walk only what it allocates.

    Every client calls it after its warm-up; without it the engine's import-time heap
    (55,000 tracked objects against bare aiohttp's 32,000) is walked by each full collection.
    """
    gc.collect()
    gc.freeze()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_result(path: str, phase: Phase, **fields: Any) -> None:
    """Write a client's measurements as JSON for the orchestrator."""
    record = {"wall_s": phase.wall_s, "cpu_s": phase.cpu_s, "peak_rss_mb": peak_rss_mb()}
    record.update(fields)
    Path(path).write_text(json.dumps(record))


# ---------------------------------------------------------------- server and subprocesses


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str, timeout: float = 5.0) -> Any:
    """GET a JSON document."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def stat_counts(stats: Any) -> dict[str, int]:
    """Requests answered and requests rate-limited (429) according to the server's /stats.

    Tolerant of the exact layout: sums the counters whose names say what they count.
    """
    flat = dict(_flatten(stats))
    total = _first(flat, ("requests", "requests_total", "total_requests", "calls", "total"))
    limited = _first(flat, ("rate_limited", "throttled", "status_429", "429", "responses_429"))
    ok = _first(
        flat, ("replies", "ok", "completed", "succeeded", "status_200", "200", "responses_200")
    )
    if ok is None and total is not None:
        ok = total - (limited or 0)
    return {"total": total or 0, "ok": ok or 0, "rate_limited": limited or 0}


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}{key}.")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield prefix.rstrip("."), value


def _first(flat: dict[str, Any], names: Sequence[str]) -> int | None:
    for name in names:
        for key, value in flat.items():
            if key.rsplit(".", 1)[-1] == name:
                return int(value)
    return None


@dataclass
class Server:
    """The simulated provider in its own process on loopback."""

    latency_ms: float
    rpm: float | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> Any:
        return get_json(f"{self.root}/stats")

    def cpu_s(self) -> float:
        """CPU seconds the server process has used so far (from /proc)."""
        if self.process is None:
            return 0.0
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        command = [str(VENV_PYTHON), "-m", SERVER_MODULE, "--port", str(self.port)]
        command += ["--latency-ms", f"{self.latency_ms:g}"]
        if self.rpm is not None:
            command += ["--rpm", f"{self.rpm:g}"]
        OUT.mkdir(exist_ok=True)
        log = (OUT / "server.log").open("ab")
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=log, env=_env(), start_new_session=True
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"simulated server exited: see {OUT / 'server.log'}")
            try:
                self.stats()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("simulated server did not come up within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@contextmanager
def server(latency_ms: float, rpm: float | None = None) -> Iterator[Server]:
    """Run a fresh simulated server for one scenario."""
    srv = Server(latency_ms=latency_ms, rpm=rpm)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_client(
    srv: Server,
    args: Sequence[str],
    *,
    python: Path = VENV_PYTHON,
    script: str | None = None,
    timeout_s: float = 3600,
    poll_s: float = 1.0,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run one client in its own process against ``srv``; return its measurements.

    The client is ``python -m bench.clients.<args[0]>`` (or ``python <script>``). While it
    runs, the server's /stats is polled every ``poll_s`` to get a timeline of answered and
    rate-limited calls. The result holds the client's own JSON plus ``server`` (counts
    during the run) and ``timeline``.
    """
    OUT.mkdir(exist_ok=True)
    result_path = OUT / f"result-{os.getpid()}-{time.monotonic_ns()}.json"
    if script is None:
        command = [str(python), "-m", f"bench.clients.{args[0]}", *args[1:]]
    else:
        command = [str(python), script, *args]
    command += ["--base-url", f"{srv.root}/v1", "--result", str(result_path)]
    before = stat_counts(srv.stats())
    server_cpu = srv.cpu_s()
    started = time.monotonic()
    timeline: list[tuple[float, dict[str, int]]] = []
    with (OUT / "clients.log").open("ab") as log:
        log.write(f"\n$ {' '.join(command)}\n".encode())
        log.flush()
        child_env = _env() | (env or {})
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=log, env=child_env, start_new_session=True
        )
        try:
            while True:
                try:
                    process.wait(poll_s)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() - started > timeout_s:
                    raise RuntimeError(f"client timed out after {timeout_s} s: {command}")
                timeline.append((time.monotonic() - started, _delta(srv, before)))
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    if process.returncode != 0 or not result_path.exists():
        raise RuntimeError(f"client failed ({process.returncode}): {command}; see out/clients.log")
    result: dict[str, Any] = json.loads(result_path.read_text())
    result_path.unlink()
    result["server"] = _delta(srv, before)
    # How busy the server was: near 1.0 means it, not the client, set the pace.
    result["server_busy"] = (srv.cpu_s() - server_cpu) / (time.monotonic() - started)
    result["timeline"] = timeline
    return result


def _delta(srv: Server, before: dict[str, int]) -> dict[str, int]:
    now = stat_counts(srv.stats())
    return {key: now[key] - before[key] for key in now}


def median(values: Sequence[float]) -> float:
    """The median (of an odd or even number of values)."""
    return float(statistics.median(values))


def ratio_line(name: str, values: Sequence[float], bases: Sequence[float]) -> str:
    """A variant's median and runs, and the median of its ratios to ``bases`` (a
    baseline's runs, taken round by round with the variant's)."""
    ratios = [value / base for value, base in zip(values, bases, strict=True)]
    return (
        f"  {name:>8}: median {statistics.median(values):6.1f} "
        f"({', '.join(f'{v:.0f}' for v in values)}); ratio median "
        f"{statistics.median(ratios):.2f} ({', '.join(f'{r:.2f}' for r in ratios)})"
    )


def python_version() -> str:
    """This interpreter's version."""
    return sys.version.split()[0]
