"""The Python batch API: ``async for line in engine.batch(items, output=path)`` streams the
answer lines, resumes from its output, reads its items lazily and stops when left early."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path

import orjson
import pytest

from archon_async import Engine, InvalidInputError
from tests.conftest import FakeProvider, fake_registry

CONFIG = {
    "name": "one-call",
    "layers": [[{"type": "generator", "model": "m", "model_type": "Fake_API"}]],
}


def _engine(provider: FakeProvider) -> Engine:
    return Engine(CONFIG, registry=fake_registry(provider))


async def test_lines_stream_out_and_a_rerun_resumes(tmp_path: Path) -> None:
    provider = FakeProvider(lambda request: "answer to " + request.messages[-1]["content"])
    out = tmp_path / "answers.jsonl"
    items = [{"id": i, "prompt": f"Q{i}?"} for i in range(10)]
    seen = []
    async with aclosing(_engine(provider).batch(items, output=out)) as lines:
        async for line in lines:
            seen.append(line)
            if len(seen) == 4:
                break  # leaving early stops the batch (and frees the output at once)
    assert [line["answer"] for line in seen] == [f"answer to Q{line['id']}?" for line in seen]
    written = {orjson.loads(raw)["id"] for raw in out.read_bytes().splitlines()}
    assert written >= {line["id"] for line in seen}
    rest = [line["id"] async for line in _engine(provider).batch(items, output=out)]
    assert sorted([*written, *rest]) == list(range(10))  # nothing twice, nothing lost


async def test_items_are_read_lazily(tmp_path: Path) -> None:
    provider = FakeProvider(lambda request: "ok")
    pulled = 0

    def items() -> Iterator[dict[str, object]]:
        nonlocal pulled
        for number in range(1000):
            pulled += 1
            yield {"id": number, "prompt": "Hi?"}

    batch = _engine(provider).batch(items(), output=tmp_path / "o.jsonl", concurrency=4)
    async with aclosing(batch) as lines:
        async for _ in lines:
            break
    assert pulled < 20  # a handful in flight, not the thousand


async def test_a_prompts_file_is_checked_whole_first(tmp_path: Path) -> None:
    prompts = tmp_path / "in.jsonl"
    prompts.write_text('{"id": 1, "prompt": "a"}\n{"id": 2}\nnot json\n')
    provider = FakeProvider(lambda request: "ok")
    with pytest.raises(InvalidInputError, match="2 bad lines"):
        async for _ in _engine(provider).batch(prompts, output=tmp_path / "o.jsonl"):
            pass
    assert provider.requests == []
    prompts.write_text('{"id": 1, "prompt": "a"}\n{"id": 2, "prompt": "b"}\n')
    lines = [line async for line in _engine(provider).batch(prompts, output=tmp_path / "o.jsonl")]
    assert sorted(line["id"] for line in lines) == [1, 2]


async def test_a_budget_caps_the_batch_and_a_larger_one_goes_on(tmp_path: Path) -> None:
    from archon_async import BatchStoppedError, Budget

    provider = FakeProvider(lambda request: "ok")
    out = tmp_path / "answers.jsonl"
    items = [{"id": i, "prompt": f"Q{i}?"} for i in range(12)]
    seen: list[object] = []
    with pytest.raises(BatchStoppedError, match="budget"):
        async for line in _engine(provider).batch(
            items, output=out, concurrency=1, budget=Budget(max_calls=5)
        ):
            seen.append(line["id"])  # noqa: PERF401 (kept up to the stop)
    assert seen == list(range(5)) and len(provider.requests) == 5  # one call a prompt
    rest = [
        line["id"]
        async for line in _engine(provider).batch(items, output=out, budget=Budget(max_calls=50))
    ]
    assert sorted([*seen, *rest]) == list(range(12))  # nothing twice, nothing lost
