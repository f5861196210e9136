"""The batch's feed: at most a few prompt starts a loop turn, in order, each prompt once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from archon_async import InvalidInputError
from archon_async._batch_feed import End, Feed
from archon_async._batch_io import BatchItem


class Turns:
    """Counts event-loop turns: a callback that schedules itself runs once a turn."""

    def __init__(self) -> None:
        self.now = 0
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        self.now += 1
        self._handle = self._loop.call_soon(self._tick)

    def stop(self) -> None:
        self._handle.cancel()


def prompts(count: int) -> Iterator[BatchItem]:
    return (BatchItem(id=f"q{i}") for i in range(count))


async def work(feed: Feed, name: str, log: list[tuple[int, str, str]], turns: Turns) -> None:
    """A worker as the batch's: take a prompt, at once or in a later turn, until the end."""
    while True:
        item = feed.take_nowait()
        if item is None:
            item = await feed.take()
        if isinstance(item, End):
            return
        log.append((turns.now, name, item.id))
        await asyncio.sleep(0.001 * (len(log) % 3))  # answers of uneven length


@pytest.mark.parametrize("per_turn", [1, 3])
async def test_each_prompt_once_in_order_and_no_turn_starts_more_than_its_share(
    per_turn: int,
) -> None:
    turns = Turns()
    handed: list[tuple[int, str]] = []  # (turn, prompt) as the feed hands each one out

    def source() -> Iterator[BatchItem]:
        for item in prompts(40):
            handed.append((turns.now, item.id))
            yield item

    feed = Feed(source(), per_turn)
    log: list[tuple[int, str, str]] = []
    async with asyncio.TaskGroup() as group:
        for w in range(8):
            group.create_task(work(feed, f"w{w}", log, turns))
    turns.stop()
    every = [f"q{i}" for i in range(40)]
    assert [prompt for _, prompt in handed] == every
    # Each prompt once, and started in input order (a woken worker starts a turn later:
    # none takes a later prompt meanwhile).
    assert [prompt for _, _, prompt in log] == every
    # A prompt starts when its worker runs with it: a waiting worker a turn after it is
    # woken, and that start counts against its own turn.
    starts: dict[int, int] = {}
    for turn, _, _ in log:
        starts[turn] = starts.get(turn, 0) + 1
    assert max(starts.values()) == per_turn
    # The eight workers got their first prompts in the order they asked, over turns.
    first = {name: prompt for _, name, prompt in reversed(log)}
    assert [first[f"w{w}"] for w in range(8)] == every[:8]
    assert len({turn for turn, _, _ in log[:8]}) == -(-8 // per_turn)


async def test_a_bad_item_reaches_the_worker_that_waited_for_it() -> None:
    def source() -> Iterator[BatchItem]:
        yield BatchItem(id="q0")
        raise InvalidInputError("id 'q0' appears twice in the batch")

    feed = Feed(source(), 1)
    first = feed.take_nowait()
    assert isinstance(first, BatchItem) and first.id == "q0"
    assert feed.take_nowait() is None  # this turn's start is spent
    with pytest.raises(InvalidInputError, match="appears twice"):
        await feed.take()


async def test_a_cancelled_waiter_is_passed_over() -> None:
    feed = Feed(prompts(3), 1)
    assert isinstance(feed.take_nowait(), BatchItem)
    gone = asyncio.ensure_future(feed.take())
    kept = asyncio.ensure_future(feed.take())
    await asyncio.sleep(0)
    gone.cancel()
    got = await kept
    assert isinstance(got, BatchItem) and got.id == "q1"
    last = await feed.take()
    assert isinstance(last, BatchItem) and last.id == "q2"
    assert isinstance(await feed.take(), End)
    assert isinstance(await feed.take(), End)  # and for every later worker


async def answer(
    feed: Feed, name: str, log: list[tuple[int, str, str]], turns: Turns, sent: set[str]
) -> None:
    """A worker as the batch's: a prompt outside ``sent`` is answered wholly from the cache
    (it ends without waiting), and its worker asks for the next one at once."""
    cached = False
    while True:
        item = feed.take_after_hits() if cached else None
        if item is None:
            item = feed.take_nowait()
        if item is None:
            item = await feed.take()
        if isinstance(item, End):
            return
        log.append((turns.now, name, item.id))
        cached = item.id not in sent
        if not cached:
            await asyncio.sleep(0.001)


async def _starts_by_turn(
    hits_per_turn: int, sent: set[str], count: int = 40
) -> tuple[list[str], dict[int, int]]:
    turns = Turns()
    feed = Feed(prompts(count), 1, hits_per_turn)
    log: list[tuple[int, str, str]] = []
    async with asyncio.TaskGroup() as group:
        for w in range(8):
            group.create_task(answer(feed, f"w{w}", log, turns, sent))
    turns.stop()
    starts: dict[int, int] = {}
    for turn, _, _ in log:
        starts[turn] = starts.get(turn, 0) + 1
    return [prompt for _, _, prompt in log], starts


async def test_a_worker_whose_prompt_was_cached_goes_on_in_the_same_turn() -> None:
    every = [f"q{i}" for i in range(40)]
    order, starts = await _starts_by_turn(4, sent=set())
    assert order == every  # each prompt once, started in input order
    # One start a turn, and up to four more after prompts answered from the cache.
    assert max(starts.values()) == 5
    assert len(starts) <= 8 + 1
    order, starts = await _starts_by_turn(0, sent=set())  # without: one a turn
    assert order == every and max(starts.values()) == 1 and len(starts) == 40


async def test_cached_and_sent_prompts_mixed_still_start_once_each_in_order() -> None:
    every = [f"q{i}" for i in range(60)]
    sent = {f"q{i}" for i in range(0, 60, 3)}  # every third prompt sends a request
    order, starts = await _starts_by_turn(4, sent=sent, count=60)
    assert order == every  # a prompt handed to a woken worker is never overtaken
    assert max(starts.values()) <= 5
