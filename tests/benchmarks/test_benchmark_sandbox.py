"""The code sandbox: verdicts, limits, cancellation, and refusing to run unisolated.

The attacks (keys, writes, network, daemons, fork bombs, early exits) are in
test_sandbox_attacks.py.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
from typing import Any

import pytest

from archon_async import ConfigError
from archon_async.benchmarks import (
    Sandbox,
    SandboxUnavailableError,
    get_benchmark,
    run_python,
    score_all,
    score_code,
)
from archon_async.benchmarks._code import humaneval_program
from tests.benchmarks.sandbox_helpers import kill_all, processes_with, wait_until_gone


@pytest.fixture
async def sandbox() -> Sandbox:
    """The sandbox a user gets (auto backend), with room for a loaded machine."""
    return Sandbox(timeout_s=20)


async def test_a_correct_program_passes_and_output_is_captured(sandbox: Sandbox) -> None:
    result = await sandbox.run("import sys\nprint('hello')\nprint(sys.flags.isolated)")
    assert result.passed and result.status == "passed" and result.returncode == 0
    assert result.stdout.split() == ["hello", "1"]
    assert sandbox.isolation in ("bwrap", "unshare")


async def test_stdin_is_fed_and_the_scratch_directory_holds_only_the_program(
    sandbox: Sandbox,
) -> None:
    code = "import os\nprint(os.getcwd(), sorted(os.listdir('.')), input())"
    result = await sandbox.run(code, stdin="abc\n")
    assert result.stdout.strip() == "/sandbox ['main.py'] abc"


async def test_no_descriptor_of_the_caller_is_inherited(sandbox: Sandbox) -> None:
    read, write = os.pipe()
    os.set_inheritable(read, True)
    os.set_inheritable(write, True)
    try:
        result = await sandbox.run(
            "import os\nprint(sorted(int(fd) for fd in os.listdir('/proc/self/fd')))"
        )
    finally:
        os.close(read)
        os.close(write)
    # 0-2, and the descriptor listdir itself holds open.
    assert result.passed and eval(result.stdout)[:3] == [0, 1, 2]
    assert len(eval(result.stdout)) == 4


async def test_the_default_time_limit_is_human_evals_three_seconds() -> None:
    default = Sandbox()
    assert default.timeout_s == 3.0
    assert default.describe() == {
        "isolation": "unresolved",
        "timeout_s": 3.0,
        "memory_mb": 1024,
        "max_processes": 32,
    }


async def test_humaneval_canonical_solution_passes_and_a_wrong_one_fails(sandbox: Sandbox) -> None:
    item = get_benchmark("humaneval").items()[0]
    meta = item.metadata
    good = humaneval_program(
        meta["prompt"], meta["canonical_solution"], item.reference, meta["entry_point"]
    )
    assert (await sandbox.run(good, tests=True)).passed
    wrong = humaneval_program(
        meta["prompt"], "    return False\n", item.reference, "has_close_elements"
    )
    result = await sandbox.run(wrong, tests=True)
    assert not result.passed and result.status == "failed"
    assert "AssertionError" in result.stderr and result.detail == "AssertionError"


async def test_score_code_on_humaneval_answers_in_either_shape(sandbox: Sandbox) -> None:
    item = get_benchmark("humaneval").items()[0]
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
    assert not verdict.correct and verdict.status == "failed" and verdict.detail == "AssertionError"


async def test_a_wrong_humaneval_answer_that_exits_early_fails(sandbox: Sandbox) -> None:
    item = get_benchmark("humaneval").items()[0]
    for escape in ("import sys; sys.exit(0)", "import os; os._exit(0)", "raise SystemExit(0)"):
        answer = f"```python\ndef has_close_elements(numbers, threshold):\n    {escape}\n```"
        verdict = await score_code("humaneval", item, answer, sandbox=sandbox)
        assert not verdict.correct and verdict.status == "failed", (escape, verdict)
    exit_after = (
        "```python\n" + item.metadata["prompt"] + "    return True\n\nimport sys\nsys.exit(0)\n```"
    )
    assert not (await score_code("humaneval", item, exit_after, sandbox=sandbox)).correct


async def test_a_correct_answer_with_a_main_block_passes(sandbox: Sandbox) -> None:
    item = get_benchmark("humaneval").items()[0]
    answer = (
        "```python\n"
        + item.metadata["prompt"]
        + item.metadata["canonical_solution"]
        + "\nif __name__ == '__main__':\n    print(has_close_elements([float(input())], 0.5))\n```"
    )
    verdict = await score_code("humaneval", item, answer, sandbox=sandbox)
    assert verdict.correct and verdict.status == "passed", verdict


async def test_score_code_on_mbpp_reference_code_passes(sandbox: Sandbox) -> None:
    item = get_benchmark("mbpp").items()[0]
    answer = f"```python\n{item.metadata['code']}\n```"
    assert (await score_code("mbpp", item, answer, sandbox=sandbox)).correct
    wrong = await score_code("mbpp", item, "def remove_Occ(s, ch):\n    return s", sandbox=sandbox)
    assert not wrong.correct and wrong.status == "failed"


async def test_mbpp_setup_code_runs_after_the_answer_it_uses(sandbox: Sandbox) -> None:
    item = {item.id: item for item in get_benchmark("mbpp").items()}["367"]
    assert "Node(" in item.metadata["test_setup_code"]
    answer = f"```python\n{item.metadata['code']}\n```"
    assert (await score_code("mbpp", item, answer, sandbox=sandbox)).correct


async def test_an_infinite_loop_is_stopped_at_the_time_limit() -> None:
    result = await run_python("while True:\n    pass\n", timeout_s=1)
    assert result.status == "timeout" and not result.passed
    assert result.detail == "over the time limit of 1 s"


async def test_a_memory_blow_up_is_stopped() -> None:
    result = await run_python("data = bytearray(4 * 1024 ** 3)\n", memory_mb=256, timeout_s=20)
    assert result.status == "memory" and not result.passed
    grow = "chunks = []\nwhile True:\n    chunks.append(bytearray(10 ** 7))\n"
    assert (await run_python(grow, memory_mb=256, timeout_s=20)).status == "memory"


async def test_captured_output_is_capped(sandbox: Sandbox) -> None:
    flood = "import sys\nline = 'x' * 1023 + '\\n'\n"
    flood += "for _ in range(40 * 1024):\n    sys.stdout.write(line)\n"
    result = await sandbox.run(flood)
    assert not result.passed and result.status == "failed"
    assert result.detail == "wrote a file or output over the size limit"
    assert len(result.stdout) == 64 * 1024


async def test_cancelling_a_run_kills_the_program(sandbox: Sandbox) -> None:
    token = f"{secrets.randbelow(10**6) + 10**6}.{secrets.randbelow(10**6):06d}"
    task = asyncio.create_task(
        sandbox.run(f"import os\nos.execv('/bin/sleep', ['sleep', '{token}'])")
    )
    for _ in range(3000):  # until the program is running
        if processes_with(token):
            break
        await asyncio.sleep(0.01)
    assert processes_with(token)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    left = await wait_until_gone(token)
    kill_all(left)
    assert left == []


async def test_input_for_a_tested_program_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(ConfigError, match="reads no input"):
        await sandbox.run("pass", stdin="1\n", tests=True)


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ConfigError):
        Sandbox(timeout_s=0)
    with pytest.raises(ConfigError):
        Sandbox(max_processes=1)
    with pytest.raises(ConfigError):
        Sandbox(isolation="docker")  # type: ignore[arg-type]


def _no_isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    real = shutil.which

    def which(name: str, *args: object, **kwargs: object) -> str | None:
        if name in ("bwrap", "unshare"):
            return None
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(shutil, "which", which)


async def test_without_isolation_scoring_is_refused_unless_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _no_isolation(monkeypatch)
    items = get_benchmark("mbpp").items()[:1]
    answers = {items[0].id: f"```python\n{items[0].metadata['code']}\n```"}
    with pytest.raises(SandboxUnavailableError) as refused:
        await score_all("mbpp", items, answers)
    message = str(refused.value)
    assert "bwrap is not installed" in message and "allow_unsafe=True" in message
    assert refused.value.cli_message and "--unsafe-no-sandbox" in refused.value.cli_message
    assert "apt-get install bubblewrap" in message
    unsafe = Sandbox(timeout_s=20, allow_unsafe=True)
    report = await score_all("mbpp", items, answers, sandbox=unsafe)
    assert report.accuracy == 1.0
    assert report.summary()["sandbox"] == {
        "isolation": "none",
        "timeout_s": 20,
        "memory_mb": 1024,
        "max_processes": 32,
    }


async def test_score_all_says_which_isolation_and_time_limit_it_used() -> None:
    items = get_benchmark("mbpp").items()[:1]
    answers = {items[0].id: f"```python\n{items[0].metadata['code']}\n```"}
    report = await score_all("mbpp", items, answers, sandbox=Sandbox(timeout_s=20))
    sandbox = report.summary()["sandbox"]
    assert sandbox["isolation"] in ("bwrap", "unshare") and sandbox["timeout_s"] == 20


def test_a_run_leaves_no_event_loop_noise() -> None:
    script = (
        "import asyncio\n"
        "from archon_async.benchmarks import run_python\n"
        "code = 'import os, time\\nif os.fork() == 0:\\n    os.setsid()\\n    time.sleep(30)\\n'\n"
        "print(asyncio.run(run_python(code, timeout_s=20)).status)\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "passed"
    assert "Event loop is closed" not in done.stderr and "Exception ignored" not in done.stderr


async def test_a_sandbox_that_cannot_start_is_an_error_not_a_failed_program(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from archon_async.benchmarks import _isolation
    from tests.benchmarks.sandbox_helpers import resolved

    sandbox = await resolved("bwrap", timeout_s=20)
    real = _isolation.bwrap_command

    def broken(*args: Any, **kwargs: Any) -> list[str]:
        command = real(*args, **kwargs)
        return [command[0], "--no-such-option", *command[1:]]

    monkeypatch.setattr(_isolation, "bwrap_command", broken)
    result = await sandbox.run("pass", tests=True)
    assert result.status == "error" and not result.passed
    assert result.detail.startswith("the sandbox did not start the program: ")
    assert "no-such-option" in result.detail
