"""Attacks on the code sandbox, on each isolation backend: none may succeed.

Every test here also runs as an ordinary user (test_sandbox_unprivileged.py runs this file
under uid 65534), so each attack is checked for both kinds of caller.
"""

from __future__ import annotations

import os
import secrets
import site
import socket
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from archon_async.benchmarks import Sandbox
from tests.benchmarks.sandbox_helpers import kill_all, resolved, wait_until_gone

BACKENDS = ["bwrap", "unshare"]
FAKE_KEY = "sk-archon-test-" + "7" * 24


@pytest.fixture(params=BACKENDS)
async def sandbox(request: pytest.FixtureRequest) -> Sandbox:
    return await resolved(request.param, timeout_s=20.0)


READ_SECRETS = """
import os
found = [f"env {k}={v}" for k, v in os.environ.items()]
pids = [name for name in os.listdir("/proc") if name.isdigit()] if os.path.isdir("/proc") else []
for pid in pids:
    for name in ("environ", "cmdline"):
        try:
            with open(f"/proc/{pid}/{name}", "rb") as handle:
                found.append(f"{pid}/{name} " + handle.read().decode("latin-1"))
        except OSError as exc:
            found.append(f"{pid}/{name} denied {exc.errno}")
for path in PATHS:
    try:
        with open(path, "rb") as handle:
            found.append(f"read {path} " + handle.read(4096).decode("latin-1"))
    except OSError as exc:
        found.append(f"denied {path} {exc.errno}")
print("\\n".join(found))
"""


async def test_no_key_of_the_scoring_process_is_readable(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    dotenv = tmp_path / ".env"  # a key file next to the project, as users keep them
    dotenv.write_text(f"ANTHROPIC_API_KEY={FAKE_KEY}\n")
    cwd_env = Path.cwd() / ".env"
    paths = [str(dotenv), str(cwd_env), "/etc/shadow", f"/proc/{os.getpid()}/environ"]
    result = await sandbox.run(READ_SECRETS.replace("PATHS", repr(paths)))
    assert result.passed, result
    assert FAKE_KEY not in result.stdout and FAKE_KEY not in result.stderr
    # The environment is the allow-listed one, and no process of the host is visible.
    environment = {
        line.split("=")[0][4:] for line in result.stdout.splitlines() if line[:4] == "env "
    }
    assert environment <= {"PATH", "LANG", "HOME", "TMPDIR", "PWD"}
    commands = [line for line in result.stdout.splitlines() if "/cmdline " in line]
    assert commands and not any("pytest" in line for line in commands)
    assert len(commands) <= 4  # the sandbox's own processes only (its PID namespace)
    for path in (str(dotenv), "/etc/shadow"):
        assert f"read {path}" not in result.stdout


WRITE_OUTSIDE = """
import os
for path in {paths!r}:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write("import os; os.system('echo pwned')\\n")
        print("wrote", path)
    except OSError as exc:
        print("denied", path, exc.errno)
with open("scratch.txt", "w") as handle:
    handle.write("fine")
print("scratch", open("scratch.txt").read())
"""


def _site_packages() -> list[str]:
    places = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    return sorted(place for place in places if os.path.isdir(place))


def _existing(paths: list[str]) -> list[str]:
    return [path for path in paths if os.path.exists(path)]


async def test_nothing_outside_the_scratch_directory_can_be_written(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    name = f"zz_archon_attack_{secrets.token_hex(4)}"
    targets = [os.path.join(place, f"{name}.pth") for place in _site_packages()]
    targets += [f"/etc/{name}", f"/usr/{name}", f"/tmp/{name}", str(tmp_path / name)]
    targets += [os.path.join(os.path.dirname(sys.executable), name), f"/{name}"]
    try:
        result = await sandbox.run(WRITE_OUTSIDE.format(paths=targets))
        assert result.passed, result
        assert "scratch fine" in result.stdout  # the scratch directory is writable
        assert _existing(targets) == [], "the program wrote on the host"
        assert "wrote /etc" not in result.stdout and "wrote /usr" not in result.stdout
    finally:
        for target in _existing(targets):
            os.unlink(target)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback server on the host that sandboxed code tries to reach."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    try:
        yield server
    finally:
        server.close()


CONNECT = """
import socket
outcome = []
targets = ((socket.AF_INET, ("127.0.0.1", {port})), (socket.AF_INET6, ("::1", {port})))
for family, address in targets:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as client:
            client.settimeout(3)
            client.connect(address)
            client.sendall(b"leak")
            outcome.append("connected")
    except OSError as exc:
        outcome.append(f"refused {{exc.errno}}")
print(outcome)
"""


async def test_the_hosts_loopback_is_unreachable(sandbox: Sandbox, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    result = await sandbox.run(CONNECT.format(port=port))
    assert result.passed, result
    assert "connected" not in result.stdout
    with pytest.raises(BlockingIOError):  # nothing ever reached the server
        listener.accept()


DAEMON = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.closerange(0, 3)
        os.execv("/bin/sleep", ["sleep", "{token}"])
    os._exit(0)
time.sleep(0.5)
print("parent done")
"""


async def test_a_double_forked_daemon_does_not_outlive_the_run(sandbox: Sandbox) -> None:
    token = f"{secrets.randbelow(10**6) + 10**6}.{secrets.randbelow(10**6):06d}"
    result = await sandbox.run(DAEMON.format(token=token))
    left = await wait_until_gone(token)
    kill_all(left)
    assert result.passed and result.stdout.strip() == "parent done", result
    assert left == [], "a daemon of the program outlived the run"


async def test_a_daemon_is_killed_on_timeout_too(sandbox: Sandbox) -> None:
    token = f"{secrets.randbelow(10**6) + 10**6}.{secrets.randbelow(10**6):06d}"
    result = await sandbox.run(DAEMON.format(token=token) + "time.sleep(600)\n", timeout_s=2)
    left = await wait_until_gone(token)
    kill_all(left)
    assert result.status == "timeout"
    assert left == []


FORK_BOMB = """
import os, time
started = 0
while started < 10000:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os.execv("/bin/sleep", ["sleep", "{token}"])
    started += 1
print(started)
"""


async def test_a_fork_bomb_stops_at_the_process_limit(sandbox: Sandbox) -> None:
    bounded = Sandbox(timeout_s=20.0, max_processes=24, isolation=sandbox.isolation)  # type: ignore[arg-type]
    token = f"{secrets.randbelow(10**6) + 10**6}.{secrets.randbelow(10**6):06d}"
    result = await bounded.run(FORK_BOMB.format(token=token))
    left = await wait_until_gone(token)
    kill_all(left)
    assert result.passed, result
    assert 0 < int(result.stdout) < 24  # the limit, less the sandbox's own processes
    assert left == []


EXITS = {
    "sys.exit(0)": "import sys\nsys.exit(0)\nassert False\n",
    "os._exit(0)": "import os\nos._exit(0)\nassert False\n",
    "atexit": "import atexit, os\natexit.register(os._exit, 0)\nassert False\n",
    "SystemExit in the tested function": ("def f():\n    raise SystemExit(0)\n\nassert f() == 1\n"),
    "exit()": "exit()\nassert False\n",
    "kill itself": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
    "closing stdout": "import os\nos.close(1)\nos._exit(0)\n",
    "a forged marker": "print('0123456789abcdef0123456789abcdef')\nimport os\nos._exit(0)\n",
}


@pytest.mark.parametrize("case", sorted(EXITS))
async def test_an_early_exit_fails_the_tests(sandbox: Sandbox, case: str) -> None:
    result = await sandbox.run(EXITS[case], tests=True)
    assert not result.passed and result.status == "failed", result


async def test_a_main_block_does_not_run_under_tests(sandbox: Sandbox) -> None:
    code = (
        "def add(a, b):\n    return a + b\n\n"
        "if __name__ == '__main__':\n    input()\n    raise SystemExit(1)\n\n"
        "assert add(2, 3) == 5\n"
    )
    result = await sandbox.run(code, tests=True)
    assert result.passed and result.status == "passed", result
