"""How many prompts a batch starts in one event-loop turn: the ``batch`` command several (a
process that runs nothing else on its loop: fewer turns a prompt, less CPU a call), the
Python API one by default (an asyncio service keeps its loop's lag low), either as asked;
every prompt once and in input order whatever the setting."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from archon_async import Engine, InvalidInputError
from archon_async import _batch as batch_module
from archon_async._batch import COMMAND_STARTS_PER_TURN, STARTS_PER_TURN
from archon_async.cli import main as cli_main
from tests.conftest import ROOT, FakeProvider, fake_registry

CONFIG = {
    "name": "one-call",
    "layers": [[{"type": "generator", "model": "m", "model_type": "Fake_API"}]],
}
PROMPTS = 120


class StartsByTurn:
    """Numbers the event loop's turns (each pass of ``_run_once``: one wait for I/O, then
    the callbacks ready) and records the turn in which each prompt of a batch starts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.turn = 0
        self.started: list[tuple[int, str]] = []  # (turn, prompt id) as prompts start
        run_once = asyncio.BaseEventLoop._run_once  # type: ignore[attr-defined]
        answer_item = batch_module.answer_item

        def counted(loop: asyncio.BaseEventLoop) -> None:
            self.turn += 1
            run_once(loop)

        async def recorded(engine: Engine, item: Any, **kwargs: Any) -> dict[str, Any]:
            self.started.append((self.turn, str(item.id)))
            return await answer_item(engine, item, **kwargs)

        monkeypatch.setattr(asyncio.BaseEventLoop, "_run_once", counted)
        monkeypatch.setattr(batch_module, "answer_item", recorded)

    @property
    def most_in_a_turn(self) -> int:
        return max(Counter(turn for turn, _ in self.started).values())

    @property
    def order(self) -> list[str]:
        return [prompt for _, prompt in self.started]


def _input(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.jsonl"
    lines = (orjson.dumps({"id": str(i), "prompt": f"Q{i}?"}) for i in range(PROMPTS))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _answered(path: Path) -> list[str]:
    return [str(orjson.loads(line)["id"]) for line in path.read_bytes().splitlines()]


def _run_command(tmp_path: Path, *extra: str) -> Path:
    output = tmp_path / f"answers{len(extra)}.jsonl"
    status = cli_main(
        [
            "batch", str(ROOT / "configs" / "single_model.json"), "--simulate",
            "--simulate-latency-ms", "1", "--input", str(_input(tmp_path)),
            "--output", str(output), *extra,
        ]
    )  # fmt: skip
    assert status == 0
    return output


EVERY = [str(i) for i in range(PROMPTS)]


def test_the_batch_command_starts_its_documented_number_a_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert COMMAND_STARTS_PER_TURN == 8  # as the command's --help and Engine.batch say
    starts = StartsByTurn(monkeypatch)
    output = _run_command(tmp_path)
    # 64 workers free at once: the first turns start as many as the setting lets, no more.
    assert starts.most_in_a_turn == COMMAND_STARTS_PER_TURN
    assert starts.order == EVERY  # each prompt once, started in input order
    assert sorted(_answered(output), key=int) == EVERY  # every prompt has its line


def test_the_batch_command_starts_one_a_turn_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts = StartsByTurn(monkeypatch)
    output = _run_command(tmp_path, "--starts-per-turn", "1")
    assert starts.most_in_a_turn == 1
    assert starts.order == EVERY and sorted(_answered(output), key=int) == EVERY


def _python_batch(tmp_path: Path, **options: Any) -> tuple[list[str], FakeProvider]:
    provider = FakeProvider(lambda request: "ok")
    engine = Engine(CONFIG, registry=fake_registry(provider))
    items = [{"id": str(i), "prompt": f"Q{i}?"} for i in range(PROMPTS)]

    async def go() -> list[str]:
        lines = engine.batch(items, output=tmp_path / "o.jsonl", **options)
        return [line["id"] async for line in lines]

    return asyncio.run(go()), provider


@pytest.mark.parametrize(
    ("options", "expected"),
    [({}, STARTS_PER_TURN), ({"starts_per_turn": 4}, 4), ({"starts_per_turn": 8}, 8)],
)
def test_the_python_batch_starts_one_a_turn_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, int], expected: int
) -> None:
    assert STARTS_PER_TURN == 1  # the default Engine.batch documents
    starts = StartsByTurn(monkeypatch)
    lines, provider = _python_batch(tmp_path, **options)
    assert starts.most_in_a_turn == expected
    assert starts.order == EVERY
    assert sorted(lines, key=int) == EVERY and len(provider.requests) == PROMPTS


@pytest.mark.parametrize("bad", [0, -1, "8", 2.5, True, None])
def test_a_starts_per_turn_that_is_not_a_whole_number_is_refused_before_any_call(
    tmp_path: Path, bad: object
) -> None:
    provider = FakeProvider(lambda request: "ok")
    engine = Engine(CONFIG, registry=fake_registry(provider))
    with pytest.raises(InvalidInputError, match=r"starts_per_turn must be a whole number .*not"):
        engine.batch([{"id": 1, "prompt": "Hi?"}], output=tmp_path / "o.jsonl", starts_per_turn=bad)  # type: ignore[arg-type]
    assert provider.requests == []
    assert not (tmp_path / "o.jsonl").exists()


def test_the_command_refuses_a_starts_per_turn_below_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        _run_command(tmp_path, "--starts-per-turn", "0")
    assert exited.value.code == 2
    assert "--starts-per-turn" in capsys.readouterr().err
