"""Replies that follow the seeded ground truth (`SimulationSettings.ground_truth`).

With a `GroundTruth`, a prompt about one of its questions is answered by the rules of
`_effects`, so that running an architecture through the engine scores, in expectation,
exactly what `archon_async.search.Truth` computes for it. What each task does:

* generator: right with ``p[model, q]``; with ``sample_correlation`` every sample of a
  model on a question is one shared draw (the group is the seed, the model and the
  question's text, and the draw for samples numbered past `DRAW_STRIDE`: another run of
  the question, as the search's race passes ask), else each sample draws on its own;
* fuser: counts the right candidates it is shown and is right with `fuser_chance` (its own
  ``p[model, q]``; the critique effects when every candidate carries a fresh critique);
* ranker: orders the right candidates first with `ranker_accuracy`, else at random;
* critic: a neutral critique per candidate, tagged with a fingerprint of the candidate it
  is about, so that a later prompt can tell a fresh critique from one left over from an
  earlier layer (the engine, like Archon, passes critiques on until replaced; a critique
  of another answer carries no effect);
* verifier: a right candidate is judged correct with ``verifier_tpr``, a wrong one with
  ``verifier_fpr``;
* unit-test evaluator: one coin per (question, set of tests), shared by every candidate
  judged against those tests: with ``unit_test_accuracy`` right candidates pass every test
  and wrong ones none, else every candidate passes every test (the tie leaves the
  evaluator's order by text, which is independent of rightness: a random subset);
* judge, single rating: ``[[10]]`` with ``judge_skill`` for a right answer (with
  ``1 - judge_skill`` for a wrong one), else ``[[0]]``. Pairwise (no exact counterpart in
  `Truth`, which models a rating): when exactly one side is right it wins with
  ``judge_skill``; otherwise a tie.

Rightness of a text is the answer key's (`contains_answer`). Every reply keeps the
simulated mark and filler that says it is simulated.
"""

from __future__ import annotations

import hashlib
import random

from archon_async.components.formats import (
    render_critiques,
    render_ranking,
    render_unit_test_verdicts,
    render_verdict,
)

from ._answers import KnownQuestion, contains_answer, normalize, wrong_answer
from ._effects import GroundTruth, QuestionSet, fuser_chance, ranker_accuracy
from ._replies import answer_text, filler
from ._state import derive_seed
from ._tasks import Prompt, Task, pairwise_answers, unit_tests_shown

__all__ = ["Grounded"]

# How many words of a candidate its fingerprint covers: past the simulated mark (six
# words) into the reply's own filler, and never past a simulated reply's end.
_FINGERPRINT_WORDS = 16
_REF = "Critique reference"


class Grounded:
    """The ground-truth writer of one server.

    Args:
        truth: the effects and which question each known question plays.
        seed: the server's seed (with the effects' own seed, it decides every draw).
    """

    def __init__(self, truth: GroundTruth, seed: int) -> None:
        self.effects = truth.effects
        self.chances = QuestionSet(truth.effects)
        self.seed = seed
        self._numbers = {normalize(text): number for text, number in truth.questions.items()}

    def question(self, known: KnownQuestion, question_id: str | None) -> int | None:
        """The effects' question number a known question plays, or None."""
        number = self._numbers.get(known.question)
        if number is None and question_id:
            number = self._numbers.get(normalize(question_id))
        return number

    def reply(
        self,
        prompt: Prompt,
        known: KnownQuestion,
        question: int,
        model: str,
        rng: random.Random,
        draw: int = 0,
    ) -> str | None:
        """The reply's text after the simulated mark, or None to answer as without a ground
        truth (tasks the effects say nothing about: unit tests, verifier reasoning).
        ``draw``: which independent run of the question the sample belongs to (its sample
        number's `DRAW_STRIDE` multiple): each draws its own shared coins."""
        task = prompt.task
        if task is Task.GENERATE:
            return self._generate(known, question, model, rng, draw)
        if task is Task.FUSE:
            return self._fuse(prompt, known, question, model, rng)
        if task is Task.RANK:
            return self._rank(prompt, known, rng)
        if task is Task.CRITIQUE:
            return _critique(prompt, rng)
        if task is Task.VERIFY_VERDICT:
            return self._verdict(prompt, known, rng)
        if task is Task.UNIT_TEST_VERDICTS:
            return self._unit_test_verdicts(prompt, known, rng, draw)
        if task is Task.JUDGE_RATING:
            return self._rating(prompt, known, rng)
        if task is Task.JUDGE_PAIRWISE:
            return self._pairwise(prompt, known, rng)
        return None

    def _chance(self, model: str, question: int) -> float:
        return float(self.chances.chance(model)[question])

    def _generate(
        self, known: KnownQuestion, question: int, model: str, rng: random.Random, draw: int
    ) -> str:
        p = self._chance(model, question)
        # The group is the question itself, not the number it plays: two questions playing
        # the same number draw independently, as two runs of one question would; so do two
        # draws of one question (draw 0 keeps the seed it always had).
        named = (known.question, draw) if draw else (known.question,)
        group = random.Random(derive_seed(self.seed, "samples", model, *named))
        if group.random() < self.effects.sample_correlation:
            right = group.random() < p  # one draw for every sample of the group
            rng.random()  # keeps the sample's own stream aligned either way
        else:
            right = rng.random() < p
        return _answer(known, right, rng)

    def _fuse(
        self, prompt: Prompt, known: KnownQuestion, question: int, model: str, rng: random.Random
    ) -> str:
        right = _right_flags(prompt, known)
        chance = fuser_chance(
            self.effects, sum(right), len(right), self._chance(model, question), _critiqued(prompt)
        )
        return _answer(known, rng.random() < chance, rng)

    def _rank(self, prompt: Prompt, known: KnownQuestion, rng: random.Random) -> str:
        numbers = list(range(1, len(prompt.candidates) + 1)) or [1]
        rng.shuffle(numbers)
        if prompt.candidates and rng.random() < ranker_accuracy(self.effects, _critiqued(prompt)):
            right = _right_flags(prompt, known)
            numbers.sort(key=lambda number: not right[number - 1])  # stable: random within
        return f"{filler(rng, 16)}\n{render_ranking(numbers)}"

    def _verdict(self, prompt: Prompt, known: KnownQuestion, rng: random.Random) -> str:
        effects = self.effects
        right = contains_answer(prompt.text, known)
        passes = rng.random() < (effects.verifier_tpr if right else effects.verifier_fpr)
        return f"{filler(rng, 12)}\n{render_verdict(passes)}"

    def _unit_test_verdicts(
        self, prompt: Prompt, known: KnownQuestion, rng: random.Random, draw: int
    ) -> str:
        tests = "\n".join(unit_tests_shown(prompt.text))
        named = (tests, draw) if draw else (tests,)
        coin = random.Random(derive_seed(self.seed, "unit_tests", known.question, *named))
        if coin.random() < self.effects.unit_test_accuracy:
            passed = contains_answer(prompt.text, known)
        else:
            passed = True  # a tie: the evaluator's own order decides, blind to rightness
        return f"{filler(rng, 10)}\n{render_unit_test_verdicts([passed] * prompt.count)}"

    def _rating(self, prompt: Prompt, known: KnownQuestion, rng: random.Random) -> str:
        wins = self._judged_win(contains_answer(prompt.text, known), rng)
        return f"{filler(rng, 20)}\n\nRating: [[{10 if wins else 0}]]"

    def _pairwise(self, prompt: Prompt, known: KnownQuestion, rng: random.Random) -> str:
        sides = pairwise_answers(prompt.text)
        verdict = "A=B"
        if sides is not None:
            a, b = (contains_answer(side, known) for side in sides)
            if a != b:
                a_wins = self._judged_win(a, rng)
                verdict = "A>>B" if a_wins else "B>>A"
        return f"{filler(rng, 20)}\n\nMy final verdict is [[{verdict}]]."

    def _judged_win(self, right: bool, rng: random.Random) -> bool:
        skill = self.effects.judge_skill
        return rng.random() < (skill if right else 1 - skill)


def _answer(known: KnownQuestion, right: bool, rng: random.Random) -> str:
    # The words come from a stream of their own, so a text's filler (which orders
    # candidates on ties) says nothing about whether it is right.
    words = random.Random(rng.getrandbits(64))
    answer = known.answer if right else wrong_answer(known.answer, rng)
    return answer_text(answer, words)


def fingerprint(text: str) -> str:
    """A short digest of a candidate's first words: which answer a critique is about."""
    head = " ".join(normalize(text).split(" ")[:_FINGERPRINT_WORDS])
    return hashlib.blake2b(head.encode(), digest_size=5).hexdigest()


def _critique(prompt: Prompt, rng: random.Random) -> str:
    pairs = []
    for candidate in prompt.candidates or ("",):
        strength = filler(rng, 8)
        weakness = f"{filler(rng, 8)} {_REF} {fingerprint(candidate)}."
        pairs.append((strength, weakness))
    return render_critiques(pairs)


def _critiqued(prompt: Prompt) -> bool:
    """Whether every candidate shown carries a fresh critique of itself."""
    return bool(prompt.candidates) and all(
        f"{_REF} {fingerprint(candidate)}" in candidate for candidate in prompt.candidates
    )


def _right_flags(prompt: Prompt, known: KnownQuestion) -> list[bool]:
    return [contains_answer(candidate, known) for candidate in prompt.candidates]
