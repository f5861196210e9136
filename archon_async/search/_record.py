"""The run directory's record: what search it holds, and every evaluation, append-only.

``search.json`` names the search (space fingerprint, benchmark, mode, algorithm, seed);
``leaderboard.jsonl`` gets one line per evaluated architecture as soon as it is scored,
flushed, so a killed search loses at most the evaluations in flight. A rerun of the same
command reads both back: evaluations already recorded are not run again, and a run
directory holding another search is refused rather than mixed.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .._exceptions import ConfigError
from .._pricing import usd
from ._spend import unpriced

if TYPE_CHECKING:
    from ._space import Candidate, Space

__all__ = ["Evaluation", "RunRecord", "read_run_file", "refusal"]


@dataclass(frozen=True)
class Evaluation:
    """The outcome of evaluating one architecture.

    Attributes:
        key: the candidate's key (`Candidate.key`).
        n: its place in the search's proposal order (1-based).
        params: its parameters (Archon's names plus ours).
        score: the score in points (0-100) on the questions it ran.
        ci: a 95% confidence interval of the score (equal ends when exact).
        objective: what the search maximises (the score, less a cost weight if set).
        questions: how many questions it ran on.
        calls_per_query, tokens_per_query, dollars_per_query: what one question costs the
            architecture run alone: its cache hits count at the cost of their first draw
            (for the oracle, the estimate of what a run would spend).
        unpriced_models: models it called that have no list price: their dollars are
            missing from ``dollars_per_query`` (never counted as $0 without saying so).
        calls, tokens, dollars: what it actually spent (cache hits are free).
        cache_hit_share: the share of its calls answered from the cache.
        stopped_early: it was stopped on part of the dev set as clearly weaker.
        mode: ``oracle`` (exact simulated score), ``simulated`` or ``real``.
        per_model: calls and tokens by model.
    """

    key: str
    n: int
    params: dict[str, Any]
    score: float
    ci: tuple[float, float]
    objective: float
    questions: int
    calls_per_query: float
    tokens_per_query: float
    dollars_per_query: float
    unpriced_models: list[str] = field(default_factory=list)
    calls: int = 0
    tokens: int = 0
    dollars: float = 0.0
    cache_hit_share: float = 0.0
    stopped_early: bool = False
    mode: str = "oracle"
    per_model: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The leaderboard line."""
        data = asdict(self)
        data["ci"] = list(self.ci)
        data["dollars"] = usd(self.dollars)
        data["dollars_per_query"] = usd(self.dollars_per_query)
        return data

    @classmethod
    def estimated(
        cls,
        space: Space,
        candidate: Candidate,
        n: int,
        *,
        score: float,
        ci: tuple[float, float],
        questions: int,
        cost_weight: float,
        mode: str,
        stopped_early: bool = False,
    ) -> Evaluation:
        """The evaluation of ``candidate`` scored without calls (the oracle's and the
        sampled evaluator's): its spend per query is the space's estimate of a run, its
        objective the score less ``cost_weight`` times those dollars, and nothing was
        spent."""
        cost = space.cost(candidate)
        return cls(
            key=candidate.key(),
            n=n,
            params=candidate.params(),
            score=score,
            ci=ci,
            objective=round(score - cost_weight * cost.dollars, 6),
            questions=questions,
            calls_per_query=cost.calls,
            tokens_per_query=cost.tokens,
            dollars_per_query=cost.dollars,
            unpriced_models=unpriced(model.model for model in space.models_of(candidate)),
            stopped_early=stopped_early,
            mode=mode,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evaluation:
        """Read a leaderboard line back."""
        return cls(**{**data, "ci": tuple(data["ci"])})


class RunRecord:
    """The record of one search in a run directory.

    Args:
        run_dir: the directory (created if missing).
        identity: what makes this search this search (compared on resume).

    Raises:
        ConfigError: the directory holds another search.
    """

    def __init__(self, run_dir: Path, identity: dict[str, Any]) -> None:
        self.run_dir = run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        self.meta_path = run_dir / "search.json"
        self.leaderboard_path = run_dir / "leaderboard.jsonl"
        refused = refusal(run_dir, identity)
        if refused is not None:
            raise refused
        # Written anew when the directory holds nothing to resume (a run that failed before
        # its first result may be rerun with other options).
        _write_atomic(self.meta_path, orjson.dumps(identity, option=orjson.OPT_INDENT_2))
        self.evaluations: dict[str, Evaluation] = {}
        if self.leaderboard_path.exists():
            for line in self.leaderboard_path.read_bytes().splitlines():
                try:
                    evaluation = Evaluation.from_json(orjson.loads(line))
                except (orjson.JSONDecodeError, TypeError, KeyError):
                    continue  # a line cut short by a kill: that evaluation runs again
                self.evaluations[evaluation.key] = evaluation
            self.rewrite()

    def add(self, evaluation: Evaluation) -> None:
        """Record an evaluation (appended and flushed at once)."""
        self.evaluations[evaluation.key] = evaluation
        with self.leaderboard_path.open("ab") as stream:
            stream.write(orjson.dumps(evaluation.to_json()) + b"\n")
            stream.flush()
            os.fsync(stream.fileno())

    def rewrite(self) -> None:
        """Rewrite the leaderboard in proposal order (evaluations in flight together are
        appended as they finish; cut lines are dropped), so it reads as one clean run."""
        lines = [
            orjson.dumps(e.to_json()) for e in sorted(self.evaluations.values(), key=lambda e: e.n)
        ]
        _write_atomic(self.leaderboard_path, b"".join(line + b"\n" for line in lines))

    def save_json(self, name: str, data: Any) -> Path:
        """Write ``name`` in the run directory (atomically)."""
        path = self.run_dir / name
        _write_atomic(
            path, orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
        )
        return path

    def load_json(self, name: str) -> Any:
        """Read ``name`` back, or None when it is not there."""
        path = self.run_dir / name
        return read_run_file(path) if path.exists() else None


def read_run_file(path: Path) -> Any:
    """The JSON of a run directory's file ``path``.

    Raises:
        ConfigError: it is not JSON (a search writes its files whole, so it was cut or
            changed outside one: a full disk, an editor), naming it and what to do.
    """
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise ConfigError(
            f"the run directory's {path.name} ({path}) is not valid JSON ({error}): a search "
            "writes it whole, so it was cut or changed outside one; put back a copy of it, "
            "or remove the run directory to start the search anew"
        ) from None


def refusal(run_dir: Path, identity: dict[str, Any]) -> ConfigError | None:
    """Why ``run_dir`` refuses the search of ``identity``: it holds another search with
    results a rerun would resume from (the error names each setting that differs); None
    when it holds this search, none, or nothing to resume. A run raises it before its
    first call, and ``--estimate`` too, in the same words (reads only)."""
    meta_path = run_dir / "search.json"
    if not meta_path.exists():
        return None
    held = read_run_file(meta_path)
    changed = sorted(k for k in identity.keys() | held.keys() if identity.get(k) != held.get(k))
    names = ("leaderboard.jsonl", "ranking.json", "cache.sqlite")
    if not changed or not any((run_dir / name).exists() for name in names):
        return None
    # The directory named once, as the user gave it (not again as its search.json).
    held_there = f"the run directory {run_dir} holds another search: " + _changes(
        changed, held, identity
    )
    keeps = "(a search resumes with other evaluations, Archon's iteration counts or budget)"
    return ConfigError(
        f"{held_there}; resume that one with its own search file and arguments, or give "
        f"this one another run_dir {keeps}",
        cli_hint=f"{held_there}; resume that one with its own search file and options, or "
        f"give this one another --run-dir {keeps}",
    )


def _changes(names: list[str], held: dict[str, Any], wanted: dict[str, Any]) -> str:
    """What differs between a record's search and the one asked for, for a person: the
    first few settings with both values."""

    def shown(value: Any) -> str:
        text = "unset" if value is None else orjson.dumps(value).decode()
        return text if len(text) <= 60 else text[:57] + "..."

    parts = [
        f"{name} is {shown(held.get(name))} there, {shown(wanted.get(name))} here"
        for name in names[:4]
    ]
    more = f" and {len(names) - 4} more settings" if len(names) > 4 else ""
    return "; ".join(parts) + more


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
