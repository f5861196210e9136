"""`CacheFile`: every write to a response cache's SQLite file, made by one thread of its own.

Several processes may use one cache file at once (two batches, a search's workers). Three
things keep them consistent, all of them rows of the file changed in transactions that
begin ``IMMEDIATE`` (the write lock is taken first, so what a transaction reads cannot
change before it writes):

* **First writer wins, read back** (`keep`): a reply is inserted only where its sample is
  not stored yet (``ON CONFLICT DO NOTHING``), then the stored sample is read back in the
  same transaction and returned. A process whose sample lost goes on with the winner, so
  everything it builds on it (a ranker's or fuser's prompt) is what a rerun will find.
* **Claims** (`claim`): before a process sends sample j of a request, it claims
  (key, j) in the file: who (host, process id, a token of this object) and until when. A
  process that finds the sample claimed by someone alive does not send it: it polls the file
  with a growing delay (`CachedCalls`) until the reply is there, or the claim is gone (the
  holder failed: errors are never cached, so it drops its claim and the waiter sends the
  request itself) or has lapsed.
* **Refused ``n``** (`remember_refusal`, `refusals`): a provider and model that refused
  several samples in one request, so that the next process asks them one a request at once.

Claims lapse so that nothing waits for ever: a claim lasts ``lease_s`` (30 s) and its
holder renews it every third of that while it is alive, for at most ``max_hold_s`` (300 s:
a request slower than that is sent again by the waiter; the first reply kept wins). On a
crash: a holder on the same host whose process is gone is seen at once (its process id no
longer exists) and its claims are taken over; a holder on another host is waited for until
its lease lapses (at most ``lease_s``). A holder that closes its cache drops its claims.

The thread batches what is queued into one transaction (a busy run queues many) and wakes
each waiting event loop once per batch, so the loop never waits for the disk or the write
lock; at close it drops this object's claims and checkpoints the write-ahead log into the
file, so that the file is whole on its own once every process has closed it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import queue
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .._types import ChatResponse, Usage

__all__ = ["CacheFile", "Claimed"]

CLAIMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    namespace TEXT NOT NULL,
    key BLOB NOT NULL,
    sample INTEGER NOT NULL,
    owner TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    claimed REAL NOT NULL,
    until REAL NOT NULL,
    PRIMARY KEY (namespace, key, sample)
) WITHOUT ROWID
"""
REFUSALS_SCHEMA = """
CREATE TABLE IF NOT EXISTS refusals (
    model_type TEXT NOT NULL,
    model TEXT NOT NULL,
    most INTEGER NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (model_type, model)
) WITHOUT ROWID
"""
_SELECT_REPLIES = (
    "SELECT sample, text, model, finish_reason, input_tokens, output_tokens FROM responses "
    "WHERE namespace = ? AND key = ? AND sample BETWEEN ? AND ?"
)
_BATCH = 512
T = TypeVar("T")
_STOP = object()


@dataclasses.dataclass(slots=True)
class Claimed:
    """What a claim found, by sample number: stored already (``found``), now this
    process's to send (``mine``), held by another live process (``busy``)."""

    found: dict[int, ChatResponse]
    mine: list[int]
    busy: list[int]


def reply(
    text: str, model: str, finish: str | None, tokens_in: int, tokens_out: int
) -> ChatResponse:
    """A stored reply as a response."""
    return ChatResponse(
        text=text, usage=Usage(tokens_in, tokens_out), model=model, finish_reason=finish
    )


@dataclasses.dataclass(slots=True)
class _Op:
    kind: str
    args: tuple[Any, ...]
    fallback: Any = None  # the result when the file cannot be written
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[Any] | None = None


class CacheFile:
    """The writing side of one cache file (see the module doc).

    Args:
        connect: opens a connection to the file (with its schema).
        namespace: the namespace of the replies and claims written.
        lease_s: how long a claim lasts unless its holder renews it.
        max_hold_s: how long a claim may be renewed (a request slower than this is sent
            again by a process waiting for it).
        written: called on the writer's thread with the (key, sample) of the replies
            `put` once they are on disk (or failed to be).
    """

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        namespace: str,
        *,
        lease_s: float = 30.0,
        max_hold_s: float = 300.0,
        written: Callable[[list[tuple[bytes, int]]], None] | None = None,
    ) -> None:
        self._connect = connect
        self._written = written
        self.namespace = namespace
        self.lease_s = lease_s
        self.max_hold_s = max_hold_s
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.owner = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:12]}"
        self._ops: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._renewed = 0.0
        self._refusals_read = 0.0
        #: Called on the writer's thread, at most once a second while it writes, with the
        #: refusals of ``n`` the file records (what other processes learned meanwhile).
        self.on_refusals: Callable[[dict[tuple[str, str], int]], object] | None = None
        #: The first error writing the file (the run goes on with its own replies).
        self.error: BaseException | None = None

    # -- from the event loop ---------------------------------------------------------------

    async def keep(
        self, key: bytes, samples: Sequence[int], responses: Sequence[ChatResponse]
    ) -> list[ChatResponse]:
        """Store samples of a request where they are not stored yet; the samples the file
        holds afterwards (another process's where it wrote first)."""
        return await self._ask("keep", (key, list(samples), list(responses)), list(responses))

    async def claim(self, key: bytes, samples: Sequence[int]) -> Claimed:
        """Claim samples of a request for this process (see the module doc)."""
        return await self._ask("claim", (key, list(samples)), Claimed({}, list(samples), []))

    def release(self, key: bytes, samples: Sequence[int]) -> None:
        """Drop this process's claims of samples it did not store (their request failed)."""
        self._tell("release", (key, list(samples)))

    def put(self, key: bytes, sample: int, response: ChatResponse) -> None:
        """Store a sample where it is not stored yet, without waiting."""
        self._tell("put", (key, sample, response))

    def remember_refusal(self, model_type: str, model: str, most: int) -> None:
        """Record that a provider and model refused ``n`` (at most ``most`` samples a
        request since), without waiting."""
        self._tell("refuse", (model_type, model, most))

    async def _ask(self, kind: str, args: tuple[Any, ...], fallback: T) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue(_Op(kind, args, fallback, loop, future))
        return await future

    def _tell(self, kind: str, args: tuple[Any, ...]) -> None:
        self._queue(_Op(kind, args))

    def _queue(self, op: _Op) -> None:
        with self._lock:
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="archon-cache-writer", daemon=True
                )
                self._thread.start()
        self._ops.put(op)

    # -- from any thread -------------------------------------------------------------------

    def flush(self, timeout_s: float) -> None:
        """Wait until everything queued so far is written (or failed)."""
        with self._idle:
            self._idle.wait_for(lambda: self._pending <= 0, timeout=timeout_s)

    def close(self) -> None:
        """Write what is queued, drop this object's claims, checkpoint and close."""
        with self._lock:
            thread = self._thread
        if thread is None:
            return
        self._ops.put(_STOP)
        thread.join()
        with self._lock:
            self._thread = None

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            db = self._connect()
        except Exception as exc:  # the file went away: every waiter gets its fallback
            self.error = self.error or exc
            self._answer_without_file()
            return
        db.isolation_level = None  # transactions begun here, IMMEDIATE
        try:
            while True:
                try:
                    first = self._ops.get(timeout=self.lease_s / 3)
                except queue.Empty:
                    self._transaction(db, [])  # renew the claims held
                    continue
                batch = [first]
                while len(batch) < _BATCH:
                    try:
                        batch.append(self._ops.get_nowait())
                    except queue.Empty:
                        break
                ops = [op for op in batch if op is not _STOP]
                self._transaction(db, ops)
                if len(ops) != len(batch):
                    self._finish(db)
                    return
        finally:
            db.close()

    def _answer_without_file(self) -> None:
        while (op := self._ops.get()) is not _STOP:
            self._settle([op], [op.fallback])

    def _transaction(self, db: sqlite3.Connection, ops: list[_Op]) -> None:
        now = time.time()
        results: list[Any] = []
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                results = [getattr(self, f"_do_{op.kind}")(db, now, *op.args) for op in ops]
                if now - self._renewed >= self.lease_s / 3:
                    self._renew(db, now)
                self._read_refusals(db, now)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except Exception as exc:  # said by flush() and close(); the run goes on, and no
            self.error = self.error or exc  # waiter is left waiting (this thread lives on)
            results = [op.fallback for op in ops]
        self._settle(ops, results)

    def _settle(self, ops: list[_Op], results: list[Any]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
        for op, result in zip(ops, results, strict=True):
            if op.loop is not None and op.future is not None:
                by_loop.setdefault(op.loop, []).append((op.future, result))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_set_results, settled)  # one wake-up a loop
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass
        if self._written is not None:
            puts = [(op.args[0], op.args[1]) for op in ops if op.kind == "put"]
            if puts:
                self._written(puts)
        with self._idle:
            self._pending -= len(ops)
            self._idle.notify_all()

    def _finish(self, db: sqlite3.Connection) -> None:
        # Everything queued is written (or its error kept) by now: what fails here loses
        # nothing, so it is no error of the cache's. Claims left behind lapse within
        # ``lease_s``; a checkpoint another connection blocks is done by the last to close.
        try:
            db.execute("DELETE FROM claims WHERE owner = ?", (self.owner,))
        except sqlite3.Error:
            pass
        try:
            # The log's pages into the file: once the last connection closes, it is whole.
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass

    # -- operations, inside a transaction --------------------------------------------------

    def _stored(
        self, db: sqlite3.Connection, key: bytes, samples: Sequence[int]
    ) -> dict[int, ChatResponse]:
        wanted = set(samples)
        rows = db.execute(_SELECT_REPLIES, (self.namespace, key, min(samples), max(samples)))
        return {sample: reply(*row) for sample, *row in rows if sample in wanted}

    def _do_keep(
        self,
        db: sqlite3.Connection,
        now: float,
        key: bytes,
        samples: list[int],
        responses: list[ChatResponse],
    ) -> list[ChatResponse]:
        self._insert(db, now, key, zip(samples, responses, strict=True))
        stored = self._stored(db, key, samples)
        self._do_release(db, now, key, samples)
        return [stored.get(sample, mine) for sample, mine in zip(samples, responses, strict=True)]

    def _do_put(
        self, db: sqlite3.Connection, now: float, key: bytes, sample: int, response: ChatResponse
    ) -> None:
        self._insert(db, now, key, [(sample, response)])
        self._do_release(db, now, key, [sample])

    def _insert(self, db: sqlite3.Connection, now: float, key: bytes, rows: Any) -> None:
        db.executemany(
            "INSERT INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                (self.namespace, key, sample, r.text, r.model, r.finish_reason,
                 r.usage.input_tokens, r.usage.output_tokens, now)
                for sample, r in rows
            ],
        )  # fmt: skip

    def _do_claim(
        self, db: sqlite3.Connection, now: float, key: bytes, samples: list[int]
    ) -> Claimed:
        found = self._stored(db, key, samples)
        held = {
            sample: (owner, host, pid, until)
            for sample, owner, host, pid, until in db.execute(
                "SELECT sample, owner, host, pid, until FROM claims "
                "WHERE namespace = ? AND key = ? AND sample BETWEEN ? AND ?",
                (self.namespace, key, min(samples), max(samples)),
            )
        }
        mine, busy = [], []
        for sample in samples:
            if sample in found:
                continue
            holder = held.get(sample)
            if holder is None or not self._alive(now, *holder):
                mine.append(sample)
            else:
                busy.append(sample)
        db.executemany(
            "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (self.namespace, key, s, self.owner, self.host, self.pid, now, now + self.lease_s)
                for s in mine
            ],
        )
        return Claimed(found, mine, busy)

    def _do_release(
        self, db: sqlite3.Connection, now: float, key: bytes, samples: Sequence[int]
    ) -> None:
        db.executemany(
            "DELETE FROM claims WHERE namespace = ? AND key = ? AND sample = ? AND owner = ?",
            [(self.namespace, key, sample, self.owner) for sample in samples],
        )

    def _do_refuse(
        self, db: sqlite3.Connection, now: float, model_type: str, model: str, most: int
    ) -> None:
        db.execute(
            "INSERT INTO refusals VALUES (?, ?, ?, ?) ON CONFLICT (model_type, model) "
            "DO UPDATE SET most = min(most, excluded.most)",
            (model_type, model, most, now),
        )

    def _read_refusals(self, db: sqlite3.Connection, now: float) -> None:
        """Hand the refusals recorded (by any process) to `on_refusals`, once a second."""
        if self.on_refusals is None or now - self._refusals_read < 1.0:
            return
        self._refusals_read = now
        rows = db.execute("SELECT model_type, model, most FROM refusals").fetchall()
        if rows:
            self.on_refusals({(model_type, model): most for model_type, model, most in rows})

    def _renew(self, db: sqlite3.Connection, now: float) -> None:
        db.execute(
            "UPDATE claims SET until = ? WHERE owner = ? AND claimed > ?",
            (now + self.lease_s, self.owner, now - self.max_hold_s),
        )
        self._renewed = now

    def _alive(self, now: float, owner: str, host: str, pid: int, until: float) -> bool:
        """Whether a claim still holds: not lapsed, and its process not gone."""
        if until <= now:
            return False
        if owner == self.owner:
            return False  # ours: a leftover of a request this object gave up
        if host == self.host and pid != self.pid:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False  # crashed or killed: its claims are taken over at once
            except OSError:  # another user's process: alive
                return True
        return True


def _set_results(settled: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, result in settled:
        if not future.done():  # a waiter cancelled meanwhile
            future.set_result(result)
