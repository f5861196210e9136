"""The simulated ground truth drawn answer by answer (the brute force the exact scores are
checked against, and the noisy evaluator of ``--simulate --oracle --sampled`` runs).

It follows the rules of `archon_async.simulate._effects` literally, one candidate at a
time, with its own random draws and none of `_truth`'s algebra. Every draw names what it
decides (a generator's sample, a fuser of a layer after a given prefix of stages...):
with a plain ``random.Random`` the names are ignored and every run is independent; with
`PairedDraws` the same name gives the same draw, so two architectures that share a prefix
share its answers, as runs on the simulated provider share calls through the response
cache (the comparison between architectures is paired the same way).
"""

from __future__ import annotations

import hashlib
import random
from typing import Protocol

from ..simulate._effects import Effects, fuser_chance, ranker_accuracy
from ._effects import QuestionSet
from ._space import Candidate, Space

__all__ = ["PairedDraws", "draw_answer"]

#: Separates the parts of a draw's name.
_SEP = "\x1f"


class _Uniform(Protocol):
    def __call__(self, *name: object) -> float: ...


class PairedDraws:
    """Uniform draws in [0, 1) named by what they decide, for one question of one run.

    Args:
        seed: the run's seed (the simulated provider's seed).
        question: names the question (its id, or its number).
        memo: keep every draw made, by its name (for a question many architectures answer:
            those sharing stages ask the same names). Names are then strings only (``1``
            and ``True`` are equal keys but name different draws).
    """

    def __init__(self, seed: int, question: object, *, memo: bool = False) -> None:
        prefix = f"{seed}{_SEP}{question}".encode()
        # A draw hashes the prefix then its name: the prefix is hashed once, and each draw
        # continues from a copy of that state (the same digest as hashing it all at once).
        self._prefix = hashlib.blake2b(prefix, digest_size=8)
        self._alone = _uniform(self._prefix.digest())
        self._memo: dict[tuple[object, ...], float] | None = {} if memo else None

    def __call__(self, *name: object) -> float:
        memo = self._memo
        if memo is not None:
            value = memo.get(name)
            if value is None:
                value = memo[name] = self._draw(name)
            return value
        return self._draw(name)

    def _draw(self, name: tuple[object, ...]) -> float:
        if not name:
            return self._alone
        hashed = self._prefix.copy()
        hashed.update((_SEP + _SEP.join(map(str, name))).encode())
        return _uniform(hashed.digest())


def _uniform(digest: bytes) -> float:
    """A uniform draw in [0, 1) from an 8-byte digest (its top 53 bits)."""
    return float(int.from_bytes(digest, "big") >> 11) / float(1 << 53)


def draw_answer(
    space: Space,
    questions: QuestionSet,
    candidate: Candidate,
    question: int,
    rng: random.Random | PairedDraws,
    *,
    judged: bool,
) -> bool:
    """One run of ``candidate`` on question ``question``: whether it scores (is right, or is
    judged a win on a judged benchmark)."""
    u: _Uniform = rng if isinstance(rng, PairedDraws) else (lambda *_: rng.random())
    effects = questions.effects
    ext = space.settings.archon_async
    names = [m.model for m in space.models]
    chances = {name: float(questions.chance(name)[question]) for name in names}
    answers = _generate(candidate, names, chances, effects, u)
    # Names are joined as `PairedDraws` joins them (a prefix joined once names the same
    # draws as its parts), and every part is a string (a `PairedDraws` memo keys on them).
    critic, top_k = str(candidate.critic), str(candidate.ranker_top_k)
    prefix = f"gen{_SEP}{candidate.model_top_k}{_SEP}{candidate.sample_top_k}"
    for width in candidate.fusers:
        # A stage's inputs are decided by the stages before it: draws named by that
        # prefix are the same calls in every architecture sharing it.
        step = f"{prefix}{_SEP}{critic}{_SEP}{top_k}"
        if candidate.ranker_top_k:
            accuracy = ranker_accuracy(effects, candidate.critic)
            name = f"{prefix}{_SEP}{critic}{_SEP}rank"
            answers = _select(answers, candidate.ranker_top_k, accuracy, u, name)
        answers = [
            u(step, "fuse", names[i])
            < fuser_chance(effects, sum(answers), len(answers), chances[names[i]], candidate.critic)
            for i in range(width)
        ]
        prefix = f"{prefix}{_SEP}layer{_SEP}{width}{_SEP}{critic}{_SEP}{top_k}"
    if candidate.final == "verifier":
        rates = (effects.verifier_tpr, effects.verifier_fpr)
        kept = [a for i, a in enumerate(answers) if u(prefix, "verify", str(i)) < rates[not a]]
        answers = kept or answers
    elif candidate.final == "unit_tests":
        # One coin per question: every architecture's candidates face the same tests.
        accurate = u("unit_tests") < effects.unit_test_accuracy
        answers = _select(answers, ext.final_top_k, float(accurate), u, f"{prefix}{_SEP}tests")
    prefix = f"{prefix}{_SEP}{candidate.final}"
    if ext.add_final_fuser:
        chance = fuser_chance(effects, sum(answers), len(answers), chances[names[0]], False)
        right = u(prefix, "final_fuser") < chance
    else:
        right = answers[min(len(answers) - 1, int(u("pick") * len(answers)))]
    if judged:
        return u(prefix, "judge") < (effects.judge_skill if right else 1 - effects.judge_skill)
    return right


def _generate(
    candidate: Candidate,
    names: list[str],
    chances: dict[str, float],
    effects: Effects,
    u: _Uniform,
) -> list[bool]:
    """Every generator's samples: with ``sample_correlation`` one shared draw per model."""
    answers: list[bool] = []
    for name in names[: candidate.model_top_k]:
        p = chances[name]
        if u("gen", name, "correlated") < effects.sample_correlation:
            answers += [u("gen", name, "shared") < p] * candidate.sample_top_k
        else:
            answers += [u("gen", name, str(j)) < p for j in range(candidate.sample_top_k)]
    return answers


def _select(answers: list[bool], keep: int, accuracy: float, u: _Uniform, name: str) -> list[bool]:
    """A ranker (or unit tests) keeping ``keep``: right first with ``accuracy``, else a
    random subset."""
    if keep >= len(answers):
        return answers
    if u(name, "accurate") < accuracy:
        return sorted(answers, reverse=True)[:keep]
    order = sorted(range(len(answers)), key=lambda i: u(name, "order", str(i)))
    return [answers[i] for i in order[:keep]]
