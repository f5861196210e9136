"""The code sandbox: passes good code, fails bad code, stops loops, memory and network."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from archon_async import ConfigError
from archon_async.benchmarks import Sandbox, get_benchmark, run_python, score_code
from archon_async.benchmarks._code import humaneval_program


@pytest.fixture
def listener() -> Iterator[int]:
    """A loopback server the sandboxed code tries to reach."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def netns_available() -> bool:
    import subprocess

    binary = shutil.which("unshare")
    if binary is None:
        return False
    return subprocess.run([binary, "--net", "--", "true"], check=False).returncode == 0


async def test_a_correct_program_passes_and_output_is_captured() -> None:
    result = await run_python("import sys\nprint('hello')\nprint(sys.flags.isolated)")
    assert result.passed and result.status == "passed" and result.returncode == 0
    assert result.stdout.split() == ["hello", "1"]


async def test_stdin_is_fed_and_the_working_directory_is_fresh() -> None:
    code = "import os\nprint(sorted(os.listdir('.')), input())"
    result = await run_python(code, stdin="abc\n")
    assert result.stdout.strip() == "['main.py'] abc"


async def test_the_environment_is_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_API_KEY", "sk-test-should-not-leak")
    result = await run_python("import os\nprint(sorted(os.environ))")
    assert "SECRET_API_KEY" not in result.stdout


async def test_humaneval_canonical_solution_passes_and_a_wrong_one_fails() -> None:
    item = get_benchmark("humaneval").items()[0]
    meta = item.metadata
    good = humaneval_program(
        meta["prompt"], meta["canonical_solution"], item.reference, meta["entry_point"]
    )
    assert (await run_python(good)).passed
    wrong = humaneval_program(
        meta["prompt"], "    return False\n", item.reference, "has_close_elements"
    )
    result = await run_python(wrong)
    assert not result.passed and result.status == "failed"
    assert "AssertionError" in result.stderr


async def test_score_code_on_humaneval_answers_in_either_shape() -> None:
    item = get_benchmark("humaneval").items()[0]
    sandbox = Sandbox(timeout_s=10)
    full = (
        "Here it is:\n```python\n"
        + item.metadata["prompt"]
        + item.metadata["canonical_solution"]
        + "```\n"
    )
    body_only = "```python\n" + item.metadata["canonical_solution"] + "```"
    wrong = "```python\ndef has_close_elements(numbers, threshold):\n    return True\n```"
    assert (await score_code("humaneval", item, full, sandbox=sandbox)).correct
    assert (await score_code("humaneval", item, body_only, sandbox=sandbox)).correct
    verdict = await score_code("humaneval", item, wrong, sandbox=sandbox)
    assert not verdict.correct and verdict.status == "failed"


async def test_score_code_on_mbpp_reference_code_passes() -> None:
    item = get_benchmark("mbpp").items()[0]
    answer = f"```python\n{item.metadata['code']}\n```"
    sandbox = Sandbox(timeout_s=10)
    assert (await score_code("mbpp", item, answer, sandbox=sandbox)).correct
    wrong = await score_code("mbpp", item, "def remove_Occ(s, ch):\n    return s", sandbox=sandbox)
    assert not wrong.correct


async def test_an_infinite_loop_is_killed_on_timeout() -> None:
    result = await run_python("while True:\n    pass\n", timeout_s=1)
    assert result.status == "timeout" and not result.passed


async def test_a_sleeping_child_process_group_is_killed_on_timeout() -> None:
    child = "import time; time.sleep(600)"
    code = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {child!r}])"
    result = await run_python(code, timeout_s=1)
    assert result.status == "timeout"


async def test_a_memory_blow_up_is_stopped() -> None:
    result = await run_python("data = bytearray(4 * 1024 ** 3)\n", memory_mb=256)
    assert result.status == "memory" and not result.passed
    grow = "chunks = []\nwhile True:\n    chunks.append(bytearray(10 ** 7))\n"
    assert (await run_python(grow, memory_mb=256, timeout_s=20)).status == "memory"


CONNECT = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(3)
s.connect(("127.0.0.1", {port}))
print("connected")
"""


@pytest.mark.parametrize("isolation", ["auto", "socket-block", "netns"])
async def test_network_is_refused(isolation: str, listener: int) -> None:
    if isolation == "netns" and not netns_available():
        pytest.skip("unshare --net is not available here")
    sandbox = Sandbox(timeout_s=10, isolation=isolation)  # type: ignore[arg-type]
    for code in (
        CONNECT.format(port=listener),
        f"import socket\nsocket.create_connection(('127.0.0.1', {listener}), timeout=3)",
        f"import _socket\ns = _socket.socket()\ns.connect(('127.0.0.1', {listener}))",
    ):
        result = await sandbox.run(code)
        assert result.status == "failed", result
        assert "connected" not in result.stdout
        assert "Error" in result.stderr
    network = [part for part in sandbox.isolation.split("+") if part != "pidns"]
    assert "+".join(network) in ("netns+socket-block", "socket-block", "netns")


async def test_local_unix_sockets_still_work() -> None:
    code = "import socket\na, b = socket.socketpair()\na.sendall(b'x')\nprint(b.recv(1))"
    assert (await run_python(code, isolation="socket-block")).passed


async def test_cancelling_a_run_kills_the_program(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    # /proc/self names the process as the host sees it, also inside a PID namespace.
    code = f"import os, time\nopen({str(pid_file)!r}, 'w').write(os.readlink('/proc/self'))\n"
    code += "time.sleep(600)"
    task = asyncio.create_task(Sandbox(timeout_s=60).run(code))
    for _ in range(3000):  # until the program has started and written its pid
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.01)
    pid = int(pid_file.read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ConfigError):
        Sandbox(timeout_s=0)


async def test_mbpp_setup_code_runs_after_the_answer_it_uses() -> None:
    item = {item.id: item for item in get_benchmark("mbpp").items()}["367"]
    assert "Node(" in item.metadata["test_setup_code"]
    answer = f"```python\n{item.metadata['code']}\n```"
    assert (await score_code("mbpp", item, answer, sandbox=Sandbox(timeout_s=10))).correct


def pidns_available() -> bool:
    import subprocess

    binary = shutil.which("unshare")
    if binary is None:
        return False
    command = [binary, "--pid", "--fork", "--kill-child", "--", "true"]
    return subprocess.run(command, check=False).returncode == 0


# The program forks a child that leaves the program's session (os.setsid), so a kill of the
# process group would miss it; the child writes its host pid, then sleeps past the timeout.
ESCAPE = """
import os, sys, time
pid = os.fork()
if pid == 0:
    os.setsid()
    with open({pid_file!r}, "w") as handle:
        handle.write(os.readlink("/proc/self"))
    time.sleep(120)
    os._exit(0)
while not os.path.exists({pid_file!r}) or not open({pid_file!r}).read():
    time.sleep(0.01)
print("parent done")
"""


def wait_gone(pid: int, seconds: float = 5.0) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


async def test_a_child_that_leaves_the_session_does_not_change_the_verdict(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "child.pid"
    sandbox = Sandbox(timeout_s=5)
    result = await sandbox.run(ESCAPE.format(pid_file=str(pid_file)))
    child = int(pid_file.read_text())
    try:
        # The program exited 0 at once: it passed, and its output is kept.
        assert result.status == "passed" and result.returncode == 0, result
        assert result.stdout.strip() == "parent done"
    finally:
        gone = wait_gone(child)
        if not gone:
            os.kill(child, 9)
    if "pidns" in sandbox.isolation:
        assert gone, "the setsid child outlived the run"


async def test_programs_run_in_their_own_pid_namespace_where_possible() -> None:
    if not pidns_available():
        pytest.skip("unshare --pid is not available here")
    sandbox = Sandbox(timeout_s=5)
    assert (await sandbox.run("pass")).passed
    assert "pidns" in sandbox.isolation


async def test_a_setsid_child_is_killed_on_timeout_too(tmp_path: Path) -> None:
    if not pidns_available():
        pytest.skip("unshare --pid is not available here")
    pid_file = tmp_path / "child.pid"
    code = ESCAPE.format(pid_file=str(pid_file)) + "time.sleep(120)\n"
    result = await Sandbox(timeout_s=1.5).run(code)
    assert result.status == "timeout"
    child = int(pid_file.read_text())
    gone = wait_gone(child)
    if not gone:
        os.kill(child, 9)
    assert gone


def test_an_escaping_child_leaves_no_event_loop_noise(tmp_path: Path) -> None:
    import subprocess
    import sys

    pid_file = tmp_path / "child.pid"
    script = (
        "import asyncio\n"
        "from archon_async.benchmarks import run_python\n"
        f"result = asyncio.run(run_python({ESCAPE.format(pid_file=str(pid_file))!r}))\n"
        "print(result.status)\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    child = int(pid_file.read_text())
    if not wait_gone(child):
        os.kill(child, 9)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "passed"
    assert "Event loop is closed" not in done.stderr
    assert "Exception ignored" not in done.stderr
