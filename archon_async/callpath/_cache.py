"""`ResponseCache`: completions kept by content, one entry per sample, on disk or in memory.

An entry's key is a digest of everything that decides a reply: the wire protocol, the
endpoint's identity (its base URL; for the simulated provider, its settings), the model,
the messages and every sampling parameter (temperature, max_tokens, the fields a config
adds). The key names a *request*; its *sample* number j makes the entry: the j-th identical
request of one `generate()` is sample j, so an architecture drawing 5 samples of a request
reuses the 3 another architecture drew and draws samples 3 and 4. Only successes are kept.

Storage: SQLite in WAL mode, from the standard library. WAL lets any number of processes
read while one writes, and a busy timeout makes concurrent writers queue instead of fail,
so one file serves several processes of a search or a batch. We chose it over `diskcache`
(itself a layer over SQLite) because a lookup here reads the samples j..j+k-1 of one request
in one indexed range query, which a key-value API would make k lookups, and because it adds
no dependency. Reads run inline (an indexed read in WAL mode takes tens of microseconds and
never waits for a writer); writes go to a writer thread (`CacheFile`), which commits them in
batches, so the event loop never waits for the disk. ``path=None`` keeps entries in memory
only.

Several processes at once (`CacheFile` says how): a reply is kept only where its sample is
not stored yet, and the caller goes on with the stored one (`keep`: first writer wins, read
back), so every process's answers are what the file gives a rerun; a sample about to be
sent is claimed in the file (`claim`), so a request in flight in one process is not sent
again by another; a provider that refused ``n`` is recorded (`remember_refusal`).

A ``namespace`` keeps experiments apart in one file: entries of one namespace are never
served to another.

Read-ahead: a cached rerun looks up every request once, and in the middle of a run each of
those indexed reads costs about 35 microseconds of CPU (measured in bench/callpath_bench.py:
the engine's work between lookups leaves SQLite's pages cold), against about 3 a row when
the namespace is read in one query. So `read_ahead` (called by `CallPath` when it opens, on
a worker thread) reads the whole namespace into memory when the file is small enough
(``read_ahead_mib``), and lookups it holds cost a dict lookup. Entries never change once
written (the first reply kept for a sample stays), so that copy cannot go stale; an entry
it lacks (written since) is read from the file as before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import operator
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from .._exceptions import ConfigError, InvalidInputError
from .._types import ChatRequest, ChatResponse
from ._cache_file import CLAIMS_SCHEMA, REFUSALS_SCHEMA, CacheFile, Claimed
from ._cache_file import reply as _response

__all__ = ["ResponseCache", "namespace_problem", "request_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    namespace TEXT NOT NULL,
    key BLOB NOT NULL,
    sample INTEGER NOT NULL,
    text TEXT NOT NULL,
    model TEXT NOT NULL,
    finish_reason TEXT,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (namespace, key, sample)
) WITHOUT ROWID
"""
_BUSY_TIMEOUT_MS = 30_000


# Every field of a request decides its reply, except these: the model_type is a name of
# ours (the wire and endpoint say where it goes), base_url is in the endpoint identity, and
# `n` only says how many samples one request draws (each is an entry of its own).
_NOT_CONTENT = frozenset({"model_type", "base_url", "n"})
_CONTENT_FIELDS = tuple(
    f.name for f in dataclasses.fields(ChatRequest) if f.name not in _NOT_CONTENT
)


_content_of = operator.attrgetter(*_CONTENT_FIELDS)

# Values orjson serializes as they are: the Mapping check (an ABC's, slow) is for the rest.
_SERIALIZED_AS_IS = frozenset({str, int, float, bool, tuple, list, dict, type(None)})


def request_key(wire: str, endpoint: str, request: ChatRequest) -> bytes:
    """The content address of a request (16 bytes): wire, endpoint, model, messages and
    every sampling parameter (every field of `ChatRequest` but the model_type's name, the
    base URL, which the endpoint stands for, and ``n``); not the key, not the sample."""
    values = _content_of(request)
    material: dict[str, Any] = dict(zip(_CONTENT_FIELDS, values, strict=True))
    if not _SERIALIZED_AS_IS.issuperset(map(type, values)):  # rare: checked one by one
        for name, value in material.items():
            if type(value) not in _SERIALIZED_AS_IS and isinstance(value, Mapping):
                material[name] = dict(value)
    material["messages"] = [[m["role"], m["content"]] for m in request.messages]
    material["wire"], material["endpoint"] = wire, endpoint
    digest = hashlib.blake2b(orjson.dumps(material, option=orjson.OPT_SORT_KEYS), digest_size=16)
    return digest.digest()


def namespace_problem(namespace: object) -> str | None:
    """What is wrong with ``namespace`` as a cache namespace, or None: the one check of
    `ResponseCache` and the command line's ``--cache-namespace`` (each words the error its
    own way). A blank name would be a namespace of its own that nobody meant, and a
    non-str one is stored as its text, a different namespace in every process that
    formats it alike only by chance.
    """
    if not isinstance(namespace, str):
        return f"give a name (a str), e.g. exp1; got {type(namespace).__name__} {namespace!r}"
    if not namespace.strip():
        return f"give a name, e.g. exp1; got {namespace!r}, which is blank"
    return None


def _check_seconds_and_size(read_ahead_mib: object, lease_s: object, max_s: object) -> None:
    """Refuse sizes and durations that mean nothing: a lease of 0 s or less (or NaN) has
    lapsed as it is taken, so every waiting process would send the request again; a
    non-number fails only at the first claim, in the middle of a call.

    Raises:
        InvalidInputError: naming the argument and what it must be.
    """
    for name, value, zero_ok in (
        ("read_ahead_mib", read_ahead_mib, True),
        ("claim_lease_s", lease_s, False),
        ("claim_max_s", max_s, False),
    ):
        if isinstance(value, bool) or not isinstance(value, int | float):
            fits = False
        else:
            fits = math.isfinite(value) and (value > 0 or (zero_ok and value == 0))
        if not fits:
            least = "0 or more (0: off)" if zero_ok else "above 0"
            raise InvalidInputError(
                f"ResponseCache({name}=...): must be a finite number {least}, got {value!r}"
            )


#: A stored reply as its columns: text, model, finish_reason, input and output tokens.
_Row = tuple[str, str, str | None, int, int]
_NO_SAMPLES: dict[int, _Row] = {}  # a key the read-ahead did not find (never written)


class ResponseCache:
    """Successful completions by request key and sample number.

    Args:
        path: an SQLite file (created if missing; shared safely by several processes), or
            None for a cache in memory, for this process only.
        namespace: entries are kept and served within this namespace only.
        read_ahead_mib: `read_ahead` reads the namespace into memory only when the file
            (with its write-ahead log) is at most this many MiB; 0 turns it off.
        claim_lease_s: how long a claim of a sample in flight lasts unless renewed (its
            process renews it while alive; see `CacheFile`).
        claim_max_s: how long a claim may be renewed: a request slower than this may be
            sent again by a process waiting for it (the first reply kept wins).

    Raises:
        InvalidInputError: ``namespace`` is not a str, or blank (`namespace_problem`), or
            a size or duration is not a finite number in its range.
        ConfigError: the file cannot be opened as a cache.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        namespace: str = "default",
        read_ahead_mib: float = 32.0,
        claim_lease_s: float = 30.0,
        claim_max_s: float = 300.0,
    ) -> None:
        problem = namespace_problem(namespace)
        if problem is not None:
            raise InvalidInputError(f"ResponseCache(namespace=...): {problem}")
        _check_seconds_and_size(read_ahead_mib, claim_lease_s, claim_max_s)
        self.path = None if path is None else Path(path)
        self.namespace = namespace
        self.read_ahead_mib = read_ahead_mib
        self._memory: dict[tuple[bytes, int], ChatResponse] = {}
        # What `read_ahead` found on disk, as its rows (text, model, finish_reason, tokens
        # in, out): entries are immutable, so it never goes stale. A reply is built when it
        # is looked up: short-lived objects, where thousands built at once and kept would
        # be the garbage collector's work for the whole run.
        self._ahead: dict[bytes, dict[int, _Row]] = {}  # by key, then sample
        self._lock = threading.Lock()
        self._reading: _ReadAhead | None = None  # started by `start_read_ahead`
        self._reader: sqlite3.Connection | None = None
        self._file: CacheFile | None = None
        self.hits = 0
        self.misses = 0
        if self.path is not None:
            self._reader = self._connect()
            self._file = CacheFile(
                self._connect,
                namespace,
                lease_s=claim_lease_s,
                max_hold_s=claim_max_s,
                written=self._forget_written,
            )

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "memory"
        return f"ResponseCache({where!r}, namespace={self.namespace!r})"

    def _connect(self) -> sqlite3.Connection:
        assert self.path is not None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_MS / 1000, check_same_thread=False
            )
            db.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            _refuse_foreign(db, self.path)  # before WAL mode or a table changes the file
            _use_wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
            db.execute(CLAIMS_SCHEMA)
            db.execute(REFUSALS_SCHEMA)
            db.commit()
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(
                f"cannot use {self.path} as a response cache ({exc}): give a writable path "
                "to a new file or to a cache this library wrote"
            ) from None
        return db

    def get_many(self, key: bytes, first: int, count: int) -> list[ChatResponse | None]:
        """Samples ``first`` .. ``first + count - 1`` of a request; None where not cached."""
        return self.lookup(key, first, count)[0]

    def lookup(self, key: bytes, first: int, count: int) -> tuple[list[ChatResponse | None], int]:
        """`get_many`, and how many of the samples were found (hits)."""
        with self._lock:
            if not self._memory:
                # A cached rerun: every sample in the read-ahead's rows, built in one pass
                # (no list to fill); a sample it lacks ends the pass (KeyError).
                ahead = self._ahead.get(key)
                if ahead is not None:
                    try:
                        replies: list[ChatResponse | None] = [
                            _response(*ahead[sample]) for sample in range(first, first + count)
                        ]
                    except KeyError:
                        pass
                    else:
                        self.hits += count
                        return replies, count
            return self._find(key, first, count)

    def _find(self, key: bytes, first: int, count: int) -> tuple[list[ChatResponse | None], int]:
        """`lookup` from every place a reply may be, with the lock held.

        Misses are counted as the list is filled, never by ``None in found`` or
        ``found.count(None)``: those compare each reply to None through the dataclass's
        ``__eq__``, a Python call per reply (a cached rerun looks up 12,000)."""
        found: list[ChatResponse | None] = [None] * count
        missing = count
        memory = self._memory  # replies not yet on disk (all of them, without a file)
        if memory:
            for offset in range(count):
                reply = memory.get((key, first + offset))
                if reply is not None:
                    found[offset] = reply
                    missing -= 1
        if missing and self.path is not None:
            ahead = self._ahead.get(key)
            if ahead:
                for offset in range(count):
                    if found[offset] is None:
                        row = ahead.get(first + offset)
                        if row is not None:
                            found[offset] = _response(*row)
                            missing -= 1
            if missing:
                missing -= self._read(key, first, found)
        self.hits += count - missing
        self.misses += missing
        return found, count - missing

    def _read(self, key: bytes, first: int, found: list[ChatResponse | None]) -> int:
        """Fill the gaps of ``found`` (samples from ``first`` on) from the file; how many."""
        if self._reader is None:  # reopened after close()
            self._reader = self._connect()
        rows = self._reader.execute(
            "SELECT sample, text, model, finish_reason, input_tokens, output_tokens "
            "FROM responses WHERE namespace = ? AND key = ? AND sample BETWEEN ? AND ?",
            (self.namespace, key, first, first + len(found) - 1),
        ).fetchall()
        filled = 0
        for sample, *row in rows:
            if found[sample - first] is None:
                found[sample - first] = _response(*row)
                filled += 1
        return filled

    def start_read_ahead(self) -> None:
        """Start `read_ahead` on a thread of its own and return at once; the next
        `read_ahead` call waits for it instead of reading again.

        The command line calls it as soon as it has the cache, so that the file is read
        while the engine is built and the event loop starts (a whole core on a machine of
        two or more) instead of while the call path opens.
        """
        if self._reading is None and self.path is not None and self.read_ahead_mib > 0:
            self._reading = _ReadAhead(self._read_ahead_now)

    def read_ahead(self) -> int:
        """Read the namespace's entries into memory in one query, if the file is at most
        ``read_ahead_mib`` MiB (see the module doc); blocking: call it off the event loop.
        After `start_read_ahead`, it waits for that read instead.

        Returns:
            The entries read (0: no file, too large, off, or read already).

        Raises:
            ConfigError: the file cannot be read as a cache.
        """
        reading, self._reading = self._reading, None
        if reading is not None:
            return reading.result()
        return self._read_ahead_now()

    def _read_ahead_now(self) -> int:
        if self.path is None or self.read_ahead_mib <= 0:
            return 0
        files = (self.path, self.path.with_name(self.path.name + "-wal"))
        size = sum(f.stat().st_size for f in files if f.exists())
        if size > self.read_ahead_mib * 2**20:
            return 0
        db = self._connect()  # its own connection: lookups go on meanwhile
        try:
            rows = db.execute(
                "SELECT key, sample, text, model, finish_reason, input_tokens, output_tokens "
                "FROM responses WHERE namespace = ?",
                (self.namespace,),
            ).fetchall()
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot read the response cache {self.path}: {exc}") from None
        finally:
            db.close()
        ahead: dict[bytes, dict[int, _Row]] = {}
        for row in rows:
            samples = ahead.get(row[0])
            if samples is None:
                samples = ahead[row[0]] = {}
            samples[row[1]] = row[2:]
        with self._lock:
            self._ahead = ahead
        return len(rows)

    def get(self, key: bytes, sample: int) -> ChatResponse | None:
        """One sample of a request, or None."""
        with self._lock:
            if not self._memory:  # a cached rerun: the sample in the read-ahead's rows
                row = self._ahead.get(key, _NO_SAMPLES).get(sample)
                if row is not None:
                    self.hits += 1
                    return _response(*row)
            return self._find(key, sample, 1)[0][0]

    def put(self, key: bytes, sample: int, response: ChatResponse) -> None:
        """Keep a successful reply as sample ``sample`` of a request, without waiting (the
        first one kept for a sample stays: another process may have drawn it first; a
        caller that goes on with the reply uses `keep`, which says the one kept)."""
        stored = _plain(response)
        with self._lock:
            self._memory.setdefault((key, sample), stored)
        if self._file is not None:
            self._file.put(key, sample, stored)

    def _forget_written(self, slots: Sequence[tuple[bytes, int]]) -> None:
        """Called by the writer: these are on disk now (or failed), read from there."""
        with self._lock:
            for slot in slots:
                self._memory.pop(slot, None)

    async def keep(
        self, key: bytes, samples: Sequence[int], responses: Sequence[ChatResponse]
    ) -> list[ChatResponse]:
        """Keep replies as samples ``samples`` of a request where none is kept yet, and
        return the ones kept: another process's where it stored that sample first, so that
        everything built on a sample is what the cache gives a rerun.

        The replies are on disk when it returns (a failed write is raised by `flush` and
        `close`; the replies given are returned then)."""
        plain = [_plain(response) for response in responses]
        if self._file is None:
            with self._lock:
                kept = [
                    self._memory.setdefault((key, sample), reply)
                    for sample, reply in zip(samples, plain, strict=True)
                ]
        else:
            kept = await self._file.keep(key, samples, plain)
        # The caller's own object where its reply was kept (its headers, its choices).
        return [
            given if stored == reply else stored
            for given, reply, stored in zip(responses, plain, kept, strict=True)
        ]

    async def claim(self, key: bytes, samples: Sequence[int]) -> Claimed:
        """Claim samples of a request before sending them (see `CacheFile`): those stored
        meanwhile, those now this process's to send, those in flight in another process.
        In memory, every sample is this process's (single flight covers the rest)."""
        if self._file is None:
            return Claimed({}, list(samples), [])
        return await self._file.claim(key, samples)

    def release(self, key: bytes, samples: Sequence[int]) -> None:
        """Drop this process's claims of samples it will not keep (their request failed,
        or was cancelled), so that another process sends them without waiting."""
        if self._file is not None:
            self._file.release(key, samples)

    def refusals(self) -> dict[tuple[str, str], int]:
        """The (model_type, model) pairs recorded as refusing ``n``, with the most samples
        a request may ask of them (none in memory).

        Raises:
            ConfigError: the file cannot be read as a cache.
        """
        if self.path is None:
            return {}
        with self._lock:
            if self._reader is None:
                self._reader = self._connect()
            try:
                rows = self._reader.execute(
                    "SELECT model_type, model, most FROM refusals"
                ).fetchall()
            except sqlite3.Error as exc:
                raise ConfigError(f"cannot read the response cache {self.path}: {exc}") from None
        return {(model_type, model): most for model_type, model, most in rows}

    def remember_refusal(self, model_type: str, model: str, most: int) -> None:
        """Record that a provider and model refused ``n`` (``most`` samples a request at
        most since), for every process on the file."""
        if self._file is not None:
            self._file.remember_refusal(model_type, model, most)

    def watch_refusals(self, learn: Callable[[dict[tuple[str, str], int]], object]) -> None:
        """Have ``learn`` called with the refusals the file records, about once a second
        while this process writes to it (on the writer's thread)."""
        if self._file is not None:
            self._file.on_refusals = learn

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait until every reply put so far is on disk.

        Raises:
            ConfigError: the writer could not write (disk full, file removed).
        """
        if self._file is not None:
            self._file.flush(timeout_s)
        self._raise_error()

    def close(self) -> None:
        """Write what is pending, drop this object's claims, checkpoint the write-ahead log
        into the file and close every connection, so that the file alone holds the cache
        once every process has closed it (SQLite removes the -wal and -shm files with the
        last connection). The cache can be reopened: the next lookup or write opens it.

        Raises:
            ConfigError: the writer could not write (disk full, file removed).
        """
        if self._file is not None:
            self._file.close()
        reading, self._reading = self._reading, None
        if reading is not None:  # started and never waited for (the command failed first)
            reading.wait()
        with self._lock:
            self._ahead = {}  # the file may be replaced while closed
            if self._reader is not None:
                try:
                    self._reader.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error:  # another process is writing: its close finishes it
                    pass
                self._reader.close()
                self._reader = None
        self._raise_error()

    def _raise_error(self) -> None:
        error = None if self._file is None else self._file.error
        if error is not None:
            raise ConfigError(f"the response cache {self.path} could not be written: {error}")

    def statistics(self) -> Mapping[str, int]:
        """Hits and misses counted by this object (samples looked up)."""
        return {"hits": self.hits, "misses": self.misses}


def _refuse_foreign(db: sqlite3.Connection, path: Path) -> None:
    """Refuse an SQLite database of tables but none of a cache's (an application's own
    data): opening it as a cache would add tables to it and put it in WAL mode.

    Raises:
        ConfigError: naming its tables (the connection closed).
    """
    tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    if tables and "responses" not in tables:
        db.close()
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise ConfigError(
            f"cannot use {path} as a response cache: it is an SQLite database this library "
            f"did not write (its tables: {shown}), which it would change; give a path to a "
            "new file or to a cache this library wrote"
        )


def _use_wal(db: sqlite3.Connection) -> None:
    """Put the file in WAL mode, waiting (up to the busy timeout) for other connections.

    SQLite's busy handler does not cover this statement on a file still in rollback mode
    (a new cache): it reads the header under a shared lock, then asks for the exclusive
    lock to rewrite it, and a connection that holds a lock already is told "database is
    locked" at once instead of waiting (waiting could deadlock two upgraders). Several
    processes opening one new cache at once race on it, so the change is retried here
    with a growing pause. A file in WAL mode already needs no lock for it: one try.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    pause = 0.001
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


class _ReadAhead:
    """A read-ahead running on a daemon thread of its own: its entry count, or its error."""

    def __init__(self, read: Callable[[], int]) -> None:
        self._read = read
        self._count = 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="archon-cache-read-ahead")
        self._thread.daemon = True  # a command that fails first exits without waiting
        self._thread.start()

    def _run(self) -> None:
        try:
            self._count = self._read()
        except BaseException as exc:  # handed to the caller of result()
            self._error = exc

    def wait(self) -> None:
        self._thread.join()

    def result(self) -> int:
        """The entries read; blocks until the read is done.

        Raises:
            ConfigError: the file cannot be read as a cache.
        """
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._count


def _plain(response: ChatResponse) -> ChatResponse:
    """A reply as the cache keeps it: its text, usage, model and finish reason only."""
    return ChatResponse(
        text=response.text,
        usage=response.usage,
        model=response.model,
        finish_reason=response.finish_reason,
    )
