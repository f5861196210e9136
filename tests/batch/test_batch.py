"""Batch runs: every prompt ends as an answer or an error line, bounded, resumable."""

from __future__ import annotations

import asyncio
import io
import os
import re
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from archon_async import (
    Architecture,
    ArchonError,
    AuthenticationError,
    BadRequestError,
    BatchStoppedError,
    ChatRequest,
    Engine,
    InvalidInputError,
    ProviderServerError,
)
from archon_async._admission import current_ticket
from archon_async._batch import run_batch
from archon_async._batch_io import BatchItem, iter_jsonl_items, prepare_output, validate_jsonl_input
from archon_async.core import ComponentContext, State
from tests.conftest import FakeProvider, fake_registry, last_user


async def echo(ctx: ComponentContext, state: State) -> dict[str, Any]:
    reply = await ctx.complete(ctx.conversation)
    return {"candidates": [reply.text]}


def engine_for(provider: FakeProvider, *, seed: int = 0) -> Engine:
    registry = fake_registry(provider).add_component("echo", echo)
    spec = {"type": "echo", "model": "m", "model_type": "Fake_API"}
    # No retries inside a call: these tests are about prompts, not about backing off.
    no_retries = {"Fake_API": {"max_retries": 0}}
    return Engine(
        Architecture.from_dict({"layers": [[spec]]}, registry=registry),
        providers=no_retries,
        seed=seed,
    )


def items(count: int) -> list[BatchItem]:
    return [
        BatchItem(id=f"q{i}", messages=[{"role": "user", "content": f"question {i}"}])
        for i in range(count)
    ]


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def run(engine: Engine, batch: list[BatchItem], out: Path, **options: Any) -> Any:
    return await run_batch(engine, batch, out, total=len(batch), progress=io.StringIO(), **options)


async def test_every_prompt_ends_as_one_line_and_concurrency_is_bounded(tmp_path: Path) -> None:
    async def reply(request: ChatRequest) -> str:
        await anyio.sleep(0.001)
        return "answer to " + last_user(request)

    provider = FakeProvider(reply)
    out = tmp_path / "answers.jsonl"
    stats = await run(engine_for(provider), items(200), out, concurrency=8)
    lines = read_lines(out)
    assert sorted(line["id"] for line in lines) == sorted(f"q{i}" for i in range(200))
    assert {line["answer"] for line in lines} == {f"answer to question {i}" for i in range(200)}
    assert all(line["calls"] == 1 and line["input_tokens"] == 10 for line in lines)
    assert provider.max_in_flight <= 8
    assert stats.answered == 200 and stats.failed == 0
    assert stats.summary()["per_model"]["m"]["calls"] == 200


async def test_a_concurrency_above_the_prompts_starts_a_worker_a_prompt(tmp_path: Path) -> None:
    # --concurrency 1000000 on 3 prompts made a task per unit: 4.7 GB and 8 minutes.
    tasks_seen: list[int] = []

    async def reply(request: ChatRequest) -> str:
        tasks_seen.append(len(asyncio.all_tasks()))
        return "answer to " + last_user(request)

    out = tmp_path / "answers.jsonl"
    stats = await run(engine_for(FakeProvider(reply)), items(3), out, concurrency=200_000)
    assert stats.answered == 3 and sorted(line["id"] for line in read_lines(out)) == [
        "q0", "q1", "q2",
    ]  # fmt: skip
    assert max(tasks_seen) < 50


async def test_failures_are_recorded_not_lost_and_retried_on_resume(tmp_path: Path) -> None:
    broken = {"q3", "q7"}

    async def flaky(request: ChatRequest) -> str:
        if any(last_user(request).endswith(f" {q[1:]}") for q in broken):
            raise ProviderServerError("overloaded", status_code=503)
        return "ok"

    out = tmp_path / "answers.jsonl"
    stats = await run(engine_for(FakeProvider(flaky)), items(10), out, concurrency=4)
    lines = read_lines(out)
    assert len(lines) == 10
    errors = {line["id"]: line["error"] for line in lines if "error" in line}
    assert set(errors) == broken
    assert all("ProviderServerError" in error for error in errors.values())
    assert stats.failed == 2

    # Run again: only the two failed prompts are asked again, and no id appears twice.
    healed = FakeProvider(lambda request: "healed")
    stats = await run(engine_for(healed), items(10), out, concurrency=4)
    assert len(healed.requests) == 2
    lines = read_lines(out)
    assert sorted(line["id"] for line in lines) == sorted(f"q{i}" for i in range(10))
    assert all("error" not in line for line in lines)
    assert stats.skipped == 8


def test_resume_drops_a_line_cut_off_mid_write(tmp_path: Path) -> None:
    out = tmp_path / "answers.jsonl"
    out.write_bytes(b'{"id": "a", "answer": "x"}\n{"id": "b", "error": "E"}\n{"id": "c", "ans')
    assert prepare_output(out, retry_errors=True) == {"a"}
    assert out.read_bytes() == b'{"id": "a", "answer": "x"}\n'
    out.write_bytes(b'{"id": "a", "answer": "x"}\n{"id": "b", "error": "E"}\n')
    assert prepare_output(out, retry_errors=False) == {"a", "b"}


async def test_multi_turn_items_answer_each_turn_with_the_conversation(tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def reply(request: ChatRequest) -> str:
        seen.append([m["content"] for m in request.messages])
        return f"reply {len(seen)}"

    out = tmp_path / "answers.jsonl"
    item = BatchItem(id="mt", turns=["first?", "second?"])
    await run(engine_for(FakeProvider(reply)), [item], out)
    [line] = read_lines(out)
    assert line["turns"] == ["reply 1", "reply 2"] and line["answer"] == "reply 2"
    assert seen[1][1:] == ["first?", "reply 1", "second?"]


def test_input_files_are_checked_before_any_call(tmp_path: Path) -> None:
    good = tmp_path / "in.jsonl"
    good.write_text(
        '{"id": 1, "prompt": "hi"}\n\n'
        '{"id": "b", "messages": [{"role": "user", "content": "yo"}], "tag": 3}\n'
    )
    assert validate_jsonl_input(good) == 2
    parsed = list(iter_jsonl_items(good))
    assert parsed[0].id == "1" and parsed[0].messages[-1]["content"] == "hi"
    assert parsed[1].metadata == {"tag": 3}
    cases = {
        '{"id": "a"}\n': "exactly one of 'prompt'",
        '{"prompt": "x"}\n': "'id'",
        "not json\n": "not valid JSON",
        '{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n': "appears twice",
        '{"id": "a", "messages": [{"role": "user"}]}\n': "content",
    }
    for text, words in cases.items():
        bad = tmp_path / "bad.jsonl"
        bad.write_text(text)
        with pytest.raises(InvalidInputError, match=words) as info:
            validate_jsonl_input(bad)
        assert "bad.jsonl" in str(info.value)


def test_an_input_that_is_not_a_file_is_named_for_what_it_is(tmp_path: Path) -> None:
    # A folder or a pipe (`--input <(...)`, read twice: to check, then to run) was said
    # not to exist.
    os.mkfifo(tmp_path / "pipe")
    for name in ("pipe", "."):
        with pytest.raises(InvalidInputError, match=r"is not a regular file .*--input -"):
            validate_jsonl_input(tmp_path / name)
    with pytest.raises(InvalidInputError, match=r"in\.jsonl: the input file does not exist"):
        validate_jsonl_input(tmp_path / "in.jsonl")


async def test_duplicate_ids_in_items_stop_the_batch(tmp_path: Path) -> None:
    batch = [*items(3), items(1)[0]]
    # The error itself, not a task group's ExceptionGroup: `except ArchonError` catches it.
    with pytest.raises(InvalidInputError, match="appears twice"):
        await run(engine_for(FakeProvider(lambda r: "x")), batch, tmp_path / "o.jsonl")


async def test_a_bad_item_of_a_lazy_input_stops_the_batch_once_those_in_flight_finish(
    tmp_path: Path,
) -> None:
    async def reply(request: ChatRequest) -> str:
        await anyio.sleep(0.05)
        return "answer to " + last_user(request)

    def prompts(bad_at: int | None) -> Any:
        for i in range(12):
            yield {"prompt": "no id"} if i == bad_at else {"id": f"q{i}", "prompt": f"question {i}"}

    provider = FakeProvider(reply)
    out = tmp_path / "answers.jsonl"
    engine = engine_for(provider)
    with pytest.raises(ArchonError, match="item 7") as info:
        async for _ in engine.batch(prompts(6), output=out, concurrency=4):
            pass
    assert isinstance(info.value, InvalidInputError)
    assert any("prompts in flight finished" in note for note in info.value.__notes__)
    # Every prompt asked before the bad item was read was answered, none cancelled, and
    # nothing after it started.
    asked = {last_user(request) for request in provider.requests}
    answered = {line["id"] for line in read_lines(out)}
    assert asked and answered == {f"q{text.split()[1]}" for text in asked}
    assert answered <= {f"q{i}" for i in range(6)}
    assert all("answer" in line for line in read_lines(out))
    # The input mended, a rerun asks only what is left.
    provider.requests.clear()
    async for _ in engine_for(provider).batch(prompts(None), output=out, concurrency=4):
        pass
    assert {last_user(r) for r in provider.requests} == {
        f"question {i}" for i in range(12) if f"q{i}" not in answered
    }
    assert sorted(line["id"] for line in read_lines(out)) == sorted(f"q{i}" for i in range(12))


async def test_prompts_started_earlier_are_served_first(tmp_path: Path) -> None:
    # Two layers per prompt and room for only two calls at a time: without priority, new
    # prompts' first calls would crowd out the second calls of older ones.
    async def reply(request: ChatRequest) -> str:
        await anyio.sleep(0.002)
        return "x"

    provider = FakeProvider(reply)
    registry = fake_registry(provider).add_component("echo", echo)
    spec = {"type": "echo", "model": "m", "model_type": "Fake_API"}
    engine = Engine(
        Architecture.from_dict({"layers": [[spec], [spec], [spec]]}, registry=registry),
        providers={"Fake_API": {"max_concurrency": 2}},
    )
    out = tmp_path / "answers.jsonl"
    await run(engine, items(30), out, concurrency=30)
    assert sorted(line["id"] for line in read_lines(out)) == sorted(f"q{i}" for i in range(30))
    # Each layer sends the same question; the first prompt's third (last) call comes within
    # the first few calls made, not after every prompt's first and second calls (60+).
    asked = [last_user(request) for request in provider.requests]
    third_call_of_first_prompt = [i for i, text in enumerate(asked) if text == "question 0"][2]
    assert third_call_of_first_prompt < 10, asked[:12]


async def test_progress_is_a_live_line_on_a_terminal_and_log_lines_elsewhere() -> None:
    from archon_async._progress import BatchStats, report_progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    class StartedLongAgo(BatchStats):
        """A batch 100 s in, whatever the wall clock: the test's own time (tqdm's import,
        the two 50 ms windows) took over 0.67 s under load, and the line's "elapsed 00:00,
        ETA 00:00" then read 00:01 or 00:02 (reproduced at nice 19, load 20)."""

        @property
        def elapsed_s(self) -> float:
            return 100.0

    stats = StartedLongAgo(total=10, answered=3, failed=1, in_flight=2)
    terminal = Terminal()
    with anyio.move_on_after(0.05):
        await report_progress(stats, stream=terminal, interval_s=0.01)
    frames = terminal.getvalue().split("\r")
    assert " 40%|" in frames[-2] and "4/10" in frames[-2]  # tqdm's bar, redrawn in place
    assert "1 failed, 2 in flight" in frames[-2]
    plain = io.StringIO()
    with anyio.move_on_after(0.05):
        await report_progress(stats, stream=plain, interval_s=0.01)
    line = plain.getvalue().splitlines()[-1]
    # A UTC timestamp first, then the counts, percentage, elapsed time and ETA: 4 of 10
    # done in 100 s, so the 6 left take 150 s more.
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ progress: 4/10 done \(40%\)", line)
    assert "elapsed 01:40, ETA 02:30" in line and "1 failed, 2 in flight" in line


async def test_answers_of_another_architecture_are_not_mixed_in(tmp_path: Path) -> None:
    out = tmp_path / "answers.jsonl"
    await run(engine_for(FakeProvider(lambda r: "one")), items(3), out)
    assert {line["fingerprint"] for line in read_lines(out)} == {
        f"{engine_for(FakeProvider(str)).architecture.fingerprint()}-s0"
    }
    # The same architecture resumes (nothing to do)...
    again = FakeProvider(lambda r: "again")
    await run(engine_for(again), items(3), out)
    assert again.requests == []
    # ...another one is refused before any call, naming the file and what to do.
    provider = FakeProvider(lambda r: "two")
    registry = fake_registry(provider).add_component("echo", echo)
    spec = {"type": "echo", "model": "m", "model_type": "Fake_API"}
    other = Engine(Architecture.from_dict({"layers": [[spec], [spec]]}, registry=registry))
    with pytest.raises(InvalidInputError, match=r"another architecture.*another --output"):
        await run(other, items(3), out)
    assert provider.requests == []
    # The same architecture with another seed is said to be that (found by the new-user
    # test: it read "another architecture", naming two fingerprints that differ in "-s2").
    reseeded = engine_for(provider, seed=2)
    says = r"the same architecture run with another seed \(0; this run's is 2\): give that seed"
    with pytest.raises(InvalidInputError, match=says):
        await run(reseeded, items(3), out)
    assert provider.requests == []


async def test_an_error_line_counts_the_calls_its_prompt_made(tmp_path: Path) -> None:
    # The first layer answers, the second always refuses: the first layer's call was paid.
    def reply(request: ChatRequest) -> str:
        if request.model == "judge":
            raise BadRequestError("no", status_code=400)
        return "draft"

    provider = FakeProvider(reply)
    registry = fake_registry(provider).add_component("echo", echo)
    layers = [
        [{"type": "echo", "model": "writer", "model_type": "Fake_API"}],
        [{"type": "echo", "model": "judge", "model_type": "Fake_API"}],
    ]
    engine = Engine(Architecture.from_dict({"layers": layers}, registry=registry))
    out = tmp_path / "answers.jsonl"
    stats = await run(engine, items(2), out, prompt_attempts=2)
    lines = read_lines(out)
    assert all("BadRequestError" in line["error"] for line in lines)
    # Two attempts per prompt, each a writer call that answered (10 tokens in) and a judge
    # call that was refused: all four were made.
    assert all(line["calls"] == 4 and line["input_tokens"] == 20 for line in lines)
    per_model = stats.summary()["per_model"]
    assert per_model["writer"]["calls"] == 4 and per_model["judge"]["calls"] == 4


async def test_a_refused_key_stops_the_batch_and_the_rerun_goes_on(tmp_path: Path) -> None:
    def refuse(request: ChatRequest) -> str:
        raise AuthenticationError("the key was refused", status_code=401)

    out = tmp_path / "answers.jsonl"
    with pytest.raises(BatchStoppedError, match=r"refused.*run the same command again"):
        await run(engine_for(FakeProvider(refuse)), items(50), out, concurrency=4)
    written = read_lines(out)
    assert 1 <= len(written) <= 4  # the prompts in flight, not all 50
    assert all(line.get("fatal") and line["attempts"] == 1 for line in written)
    healed = FakeProvider(lambda r: "ok")
    await run(engine_for(healed), items(50), out, concurrency=4)
    lines = read_lines(out)
    assert sorted(line["id"] for line in lines) == sorted(f"q{i}" for i in range(50))
    assert all(line["answer"] == "ok" for line in lines)


def test_failures_every_prompt_would_meet_are_fatal() -> None:
    from archon_async import LayerFailedGroup
    from archon_async._batch_answer import is_fatal

    no_model = BadRequestError("no such model", status_code=404)
    too_long = BadRequestError("prompt too long", status_code=400)
    assert is_fatal(AuthenticationError("refused", status_code=401)) and is_fatal(no_model)
    assert not is_fatal(too_long)  # this prompt's own problem: the others may pass
    assert is_fatal(LayerFailedGroup("layer 0", [no_model, no_model]))
    assert not is_fatal(LayerFailedGroup("layer 0", [no_model, too_long]))


async def test_integer_ids_come_back_as_integers(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 7, "prompt": "a"}\n{"id": "7b", "prompt": "b"}\n')
    out = tmp_path / "answers.jsonl"
    await run(engine_for(FakeProvider(lambda r: "x")), list(iter_jsonl_items(source)), out)
    assert sorted(map(str, (line["id"] for line in read_lines(out)))) == ["7", "7b"]
    assert 7 in [line["id"] for line in read_lines(out)]
    assert prepare_output(out, retry_errors=True) == {"7", "7b"}


async def test_every_turn_of_a_prompt_keeps_the_prompts_place_in_the_queue(
    tmp_path: Path,
) -> None:
    tickets: list[int] = []

    def reply(request: ChatRequest) -> str:
        tickets.append(current_ticket.get())
        return "r"

    item = BatchItem(id="mt", turns=["one?", "two?", "three?"])
    await run(engine_for(FakeProvider(reply)), [item], tmp_path / "o.jsonl")
    assert len(tickets) == 3 and len(set(tickets)) == 1 and tickets[0] > 0
