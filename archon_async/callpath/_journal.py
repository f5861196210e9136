"""`SpendJournal`: what a call path sent, written ahead of each request, safe from a kill.

A budget's totals live in memory and a run's files are written between steps, so a run
killed (SIGKILL, a lost machine) between two saves loses the spend of the calls it sent
since: a resumed search or batch then under-counts what the provider billed, and a hard
cap lets it spend that much again. The journal is the write-ahead record that closes the
gap: one line ``{"sent": id, "n": samples, "model": m}`` is appended *before* a request goes to the
dispatcher, and one line ``{"done": id, "calls": k, "in": tokens, "out": tokens, "usd":
dollars}`` once its reply (or its failure) is in. Totals (`SpendJournal.totals`) count
every finished request as what it spent, and every request sent with no ``done`` line as
``n`` calls of unknown tokens: a kill at any instant never under-counts calls; it
over-counts by at most the requests in flight that had not reached the provider yet (the
calls waiting for admission or a rate limit inside the dispatcher, cancelled or killed
there: a request is journaled when a hard budget reserves it, before it waits). Their
tokens and dollars are unknown and not counted. A request is one call whatever its retries
(as `Budget` counts it); a request of ``n`` samples is ``n`` calls.

Each line is one ``write(2)`` on a file opened with ``O_APPEND``: the kernel has it once
the call returns, so a killed process loses none of it (only a machine that loses power
before its page cache is written may); a line cut short by a full disk is skipped when
read. Appending stays cheaper per call than a database transaction.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .._pricing import DEFAULT_PRICES, cost_usd, usd
from .._types import CallRecord
from ._budget import Spend

__all__ = ["JournalTotals", "SpendJournal", "journal_beside", "journal_path", "spent_all_runs"]


@dataclass(frozen=True, slots=True)
class JournalTotals(Spend):
    """What the requests of a journal spent, over every run that wrote it: a `Spend` whose
    ``calls`` are the calls sent (a request of n samples is n calls), those in flight at a
    kill included, and whose tokens and dollars are those of the answered (or failed)
    requests; and:

    Attributes:
        unfinished: calls sent with no reply recorded (in flight when the run ended).
    """

    unfinished: int = 0

    def summary(self) -> dict[str, Any]:
        """JSON-ready, in a batch summary's terms."""
        return {
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "estimated_cost_usd": usd(self.cost_usd),
            "unfinished_calls": self.unfinished,
        }


class SpendJournal:
    """An append-only record of the requests a call path sends (see the module docstring).

    Args:
        path: the journal file (created on the first request; appended to by later runs).
        prices: USD per million tokens, input and output, for the ``usd`` of each line.
    """

    def __init__(
        self, path: str | Path, *, prices: Mapping[str, tuple[float, float]] = DEFAULT_PRICES
    ) -> None:
        self.path = Path(path)
        self._prices = prices
        self._fd: int | None = None
        self._lock = threading.Lock()
        # Request ids are unique in the file across runs: a random prefix per journal object.
        self._prefix = secrets.token_hex(4)
        self._count = 0
        self._quoted: dict[str, str] = {}  # model -> its JSON string

    def __repr__(self) -> str:
        return f"SpendJournal({str(self.path)!r})"

    def sent(self, samples: int, model: str = "") -> str:
        """Record a request of ``samples`` samples to ``model`` about to be sent; returns
        its id."""
        # The line spelled out as orjson writes the dict {"sent", "n", "model"} (the model's
        # JSON string kept by model), numbered and written under one hold of the lock:
        # two lines a call, ~23 k instructions a call before (bench/RESULTS.md, "Measure
        # 3, tenth pass").
        quoted = self._quoted.get(model)
        if quoted is None:
            quoted = self._quoted[model] = orjson.dumps(model).decode()
        with self._lock:
            self._count += 1
            entry = f"{self._prefix}{self._count:x}"
            self._write(f'{{"sent":"{entry}","n":{int(samples)},"model":{quoted}}}\n'.encode())
        return entry

    def done(self, entry: str, records: Iterable[CallRecord | None], *, calls: int) -> None:
        """Record what request ``entry`` spent: ``calls`` calls, the tokens of ``records``
        (its records; None for a failure with no record)."""
        tokens_in = tokens_out = 0
        dollars = 0.0
        for record in records:
            if record is None:
                continue
            tokens_in += record.input_tokens
            tokens_out += record.output_tokens
            price = cost_usd(record.model, record.input_tokens, record.output_tokens, self._prices)
            dollars += price or 0.0
        line = {"done": entry, "calls": calls, "in": tokens_in, "out": tokens_out, "usd": dollars}
        data = orjson.dumps(line) + b"\n"
        with self._lock:
            self._write(data)

    def _write(self, data: bytes) -> None:
        # Under the lock.
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            if _ends_torn(self.path):  # end an earlier run's cut line, or it eats this one
                data = b"\n" + data
        os.write(self._fd, data)

    def close(self) -> None:
        """Close the file (a later request opens it again)."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    @staticmethod
    def totals(path: str | Path) -> JournalTotals | None:
        """The totals of the journal at ``path`` (None when there is no such file)."""
        by_model = SpendJournal.by_model(path)
        if by_model is None:
            return None
        spends = by_model.values()
        return JournalTotals(
            sum(s.calls for s in spends),
            sum(s.input_tokens for s in spends),
            sum(s.output_tokens for s in spends),
            sum(s.cost_usd for s in spends),
            sum(s.unfinished for s in spends),
        )

    @staticmethod
    def by_model(path: str | Path) -> dict[str, JournalTotals] | None:
        """The totals of the journal at ``path`` by model, as `totals` counts them (``""``:
        requests journaled with no model, by a version that did not record it); None when
        there is no such file."""
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            return None
        pending: dict[str, tuple[str, int]] = {}
        done: dict[str, list[float]] = {}  # model -> calls, tokens in, tokens out, dollars
        for text in raw.splitlines():
            try:
                line = orjson.loads(text)
            except orjson.JSONDecodeError:
                continue  # cut short (a full disk): its request counts as unfinished
            if "sent" in line:
                pending[line["sent"]] = (str(line.get("model", "")), int(line["n"]))
            elif "done" in line and (sent := pending.pop(line["done"], None)) is not None:
                into = done.setdefault(sent[0], [0, 0, 0, 0.0])
                into[0] += int(line["calls"])
                into[1] += int(line["in"])
                into[2] += int(line["out"])
                into[3] += float(line["usd"])
        unfinished: dict[str, int] = {}
        for model, samples in pending.values():
            unfinished[model] = unfinished.get(model, 0) + samples
        totals = {}
        for model in sorted(done.keys() | unfinished.keys()):
            calls, tokens_in, tokens_out, dollars = done.get(model, [0, 0, 0, 0.0])
            cut = unfinished.get(model, 0)
            totals[model] = JournalTotals(
                int(calls) + cut, int(tokens_in), int(tokens_out), dollars, cut
            )
        return totals


def _ends_torn(path: Path) -> bool:
    """Whether the file's last line has no line break: cut by a full disk or a crash of
    the machine, it would join the next record written, which the totals could not read
    (a request sent and never counted)."""
    with path.open("rb") as handle:
        if handle.seek(0, os.SEEK_END) == 0:
            return False
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) != b"\n"


def journal_path(output: Path) -> Path:
    """Where the spend journal of an answers (or judgements) file is kept."""
    return output.with_name(output.name + ".spend.jsonl")


def journal_beside(output: Path) -> SpendJournal:
    """The spend journal of an answers (or judgements) file: ``OUTPUT.spend.jsonl``,
    started anew with a new output file (a resumed one adds to it)."""
    path = journal_path(output)
    if not output.exists():
        path.unlink(missing_ok=True)
    return SpendJournal(path)


def spent_all_runs(journal: SpendJournal | None) -> dict[str, Any]:
    """A summary's ``spent_all_runs``: what every run on an output sent, killed ones
    included (``journal`` is closed first); empty without a journal."""
    if journal is None:
        return {}
    journal.close()
    totals = SpendJournal.totals(journal.path)
    return {} if totals is None else {"spent_all_runs": totals.summary()}
