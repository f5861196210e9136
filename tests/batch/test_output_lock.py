"""The output's lock: one run at a time on an answers file, and no lock file left behind
(normal end, error, interruption)."""

from __future__ import annotations

import io
import os
from functools import partial
from pathlib import Path

import anyio
import pytest

from archon_async import Architecture, Engine, InvalidInputError
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem
from archon_async._output_lock import output_lock, output_lock_path
from tests.conftest import FakeProvider, fake_registry


def test_the_lock_refuses_a_second_holder_and_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "answers.jsonl"
    with output_lock(out):
        assert output_lock_path(out).exists()
        with pytest.raises(InvalidInputError, match="another run is writing"), output_lock(out):
            pass
    assert not output_lock_path(out).exists()
    with pytest.raises(KeyError), output_lock(out):
        raise KeyError("a failure inside the batch")
    assert not output_lock_path(out).exists()
    # A file left by a killed run (its flock went with it) does not block the next run.
    output_lock_path(out).write_text("")
    with output_lock(out):
        pass
    assert not output_lock_path(out).exists()


def test_a_lock_taken_on_a_file_its_holder_removed_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that opened the lock file just before the holder removed it and let go must
    not count as holding it: a third run could lock a new file at the same path."""
    out = tmp_path / "answers.jsonl"
    real_stat = os.stat

    def replaced(path: object, *args: object, **kwargs: object) -> os.stat_result:
        if Path(str(path)) == output_lock_path(out):
            return real_stat(tmp_path)  # another inode is at the path now
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("archon_async._output_lock.os.stat", replaced)
    with pytest.raises(InvalidInputError, match="another run is writing"), output_lock(out):
        pass
    monkeypatch.undo()
    with output_lock(out):  # the refused acquisition was rolled back: the lock is free
        pass


async def test_a_batch_leaves_no_lock_file_when_it_ends_or_is_cancelled(tmp_path: Path) -> None:
    provider = FakeProvider(lambda request: "ok")
    spec = {"type": "generator", "model": "m", "model_type": "Fake_API"}
    arch = Architecture.from_dict({"layers": [[spec]]}, registry=fake_registry(provider))
    items = [BatchItem(id=f"q{i}", messages=[{"role": "user", "content": "q"}]) for i in range(3)]
    out = tmp_path / "answers.jsonl"
    await run_batch(Engine(arch), items, out, total=3, progress=io.StringIO())
    assert out.exists() and not output_lock_path(out).exists()

    # Cancelled (what Ctrl-C does to the running batch) while prompts are in flight.
    started = anyio.Event()

    async def hangs(request: object) -> str:
        started.set()
        await anyio.sleep_forever()
        return "never"

    stuck = Architecture.from_dict(
        {"layers": [[spec]]}, registry=fake_registry(FakeProvider(hangs))
    )
    other = tmp_path / "b.jsonl"
    async with anyio.create_task_group() as group:
        group.start_soon(
            partial(run_batch, Engine(stuck), items, other, total=3, progress=io.StringIO())
        )
        await started.wait()
        assert output_lock_path(other).exists()
        group.cancel_scope.cancel()
    assert not output_lock_path(other).exists()
