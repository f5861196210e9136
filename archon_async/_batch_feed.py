"""How a batch hands its prompts to its workers: a few new starts a loop turn, in input
order, and cached prompts followed at once (`Feed`)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator

from ._batch_io import BatchItem


class End:
    """The mark a worker gets when the feed has no prompt left."""


END = End()


class Feed:
    """Hands the batch's prompts to its workers, at most ``per_turn`` new ones a loop turn.

    Starting every free worker in one turn makes the replies come back in waves that hold
    the loop (a generator shared by the workers measured 20x the loop lag, bench measure 6),
    so starts are spread over turns. A worker takes its next prompt at once while the turn
    has starts left (no task, queue or future: the hand-off a queue of one made cost two
    futures and two task wake-ups a prompt); otherwise it waits in arrival order, and the
    next turn's refill hands the waiting workers their prompts.

    A prompt answered wholly from the response cache sent nothing, so it makes no wave:
    its worker may go on with the next prompt in the same turn (`take_after_hits`), up to
    ``hits_per_turn`` of them a turn, so that a cached rerun answers several prompts a turn
    instead of one every other turn (the loop's turns, a flush of the output each, were a
    tenth of such a rerun's CPU), and a turn stays short (a few milliseconds).
    """

    __slots__ = (
        "_handed",
        "_hits",
        "_hits_per_turn",
        "_left",
        "_loop",
        "_pending",
        "_per_turn",
        "_refilling",
        "_waiting",
        "_woken",
    )

    def __init__(self, pending: Iterator[BatchItem], per_turn: int, hits_per_turn: int = 0) -> None:
        self._pending = pending
        self._per_turn = per_turn
        self._left = per_turn  # starts left in this loop turn
        self._woken = 0  # waiting workers handed a prompt this turn: they start in the next
        self._handed = 0  # prompts handed to woken workers that have not started them yet
        self._hits_per_turn = hits_per_turn
        self._hits = hits_per_turn  # cached prompts' follow-ups left in this loop turn
        self._refilling = False  # a refill is scheduled for the next turn
        self._waiting: deque[asyncio.Future[BatchItem | End]] = deque()
        self._loop = asyncio.get_running_loop()

    def take_nowait(self) -> BatchItem | End | None:
        """The next prompt (`END` when none is left), or None: this turn's starts are
        spent, or others wait or were handed theirs and have not started (prompts start
        in input order): `take` then waits for a later turn."""
        if not self._left or self._waiting or self._woken:
            return None
        self._left -= 1
        self._refill_next_turn()
        return next(self._pending, END)

    def take_after_hits(self) -> BatchItem | End | None:
        """For a worker whose prompt was answered wholly from the cache: the next prompt
        at once, while this turn has such follow-ups left and no prompt handed out
        earlier waits to start (prompts start in input order); else None."""
        if self._hits <= 0 or self._handed:
            return None
        self._hits -= 1
        self._refill_next_turn()
        return next(self._pending, END)

    async def take(self) -> BatchItem | End:
        """The next prompt, in a later loop turn, in the order the workers asked."""
        waiter: asyncio.Future[BatchItem | End] = self._loop.create_future()
        self._waiting.append(waiter)
        self._refill_next_turn()
        try:
            return await waiter
        finally:
            if waiter.done() and not waiter.cancelled():
                self._handed -= 1  # started (or raised) now

    def _refill_next_turn(self) -> None:
        if not self._refilling:
            self._refilling = True
            self._loop.call_soon(self._refill)

    def _refill(self) -> None:
        # A new turn. The workers woken in the last one start in this one: they count
        # against it. What is left of it wakes the workers waiting since an earlier turn,
        # first come first served (one cancelled while it waited is passed over); they start
        # in the next turn, and count against it too. So while workers wait, the starts
        # come one turn in two, as the queue of one gave them: the loop lag stays as it was
        # (bench/RESULTS.md, measure 3's sixth pass). Refilled until a turn has no start.
        self._refilling = False
        self._left = self._per_turn - self._woken
        self._woken = 0
        self._hits = self._hits_per_turn
        waiting = self._waiting
        while waiting and self._woken < self._left:
            waiter = waiting.popleft()
            if waiter.done():
                continue
            self._woken += 1
            self._handed += 1
            try:
                waiter.set_result(next(self._pending, END))
            except Exception as exc:  # a bad input line: the worker raises it
                waiter.set_exception(exc)
        if waiting or self._woken or self._left < self._per_turn:
            self._refill_next_turn()
