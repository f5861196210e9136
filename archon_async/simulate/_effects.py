"""The simulated ground truth: how each component changes the chance of a right answer.

Every effect is a setting, seeded, and the same model is computed three ways: exactly
(`archon_async.search._truth`), by drawing answers one by one
(`archon_async.search._montecarlo`), and by the simulated provider's replies when its
settings carry a `GroundTruth` (``_grounded``: every component of an architecture run
through the engine); tests check that they agree. The model, per question ``q``:

* Model ``m`` answers right with ``p[m, q] = sigmoid(logit(skill[m]) - d[q] + e[m, q])``:
  ``d[q] ~ Normal(0, difficulty_sd)`` is the question's difficulty, ``e[m, q] ~
  Normal(0, affinity_sd)`` the model's own strengths (so models differ per question),
  drawn from the seed and the model's name, so a model's chances do not depend on which
  other models are in the list or in what order.
* Correlated samples: with probability ``sample_correlation`` all samples of one model
  on one question are the same draw; otherwise they are independent.
* A ranker keeping ``t`` of ``n`` candidates sorts the right ones first with probability
  ``ranker_accuracy`` (plus ``critique_ranker_bonus`` after a critic), else keeps a
  random ``t``.
* A fuser shown ``k`` right of ``n`` with its own chance ``pf``: if none is right it solves
  the question itself with ``fuser_self * pf``; with a right majority (``k/n > 1/2``) it
  stays right except for a corruption ``fuser_corrupt * (1 - pf)`` (times
  ``critique_corrupt_factor`` after a critic: a fuser can ruin a right majority);
  otherwise it is right with ``s + (1 - s) * rescue * 2s`` (``s = k/n``, ``rescue =
  (fuser_rescue + critique_rescue_bonus after a critic) * pf``), or ``fuser_self * pf``
  if that is higher.
* A verifier keeps a right candidate with ``verifier_tpr`` and a wrong one with
  ``verifier_fpr``; when it keeps none, all pass on (as in Archon).
* Unit tests keep ``final_top_k`` candidates like a ranker of accuracy
  ``unit_test_accuracy``.
* With no final fuser, the answer is a random one of the remaining candidates.
* A judged benchmark's judge calls a right answer a win with ``judge_skill`` and a wrong
  one a win with ``1 - judge_skill``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Effects", "GroundTruth", "QuestionSet", "fuser_chance", "ranker_accuracy"]


class Effects(BaseModel):
    """The settings of the simulated ground truth (the ``simulation`` object of our section
    of a search file). Every probability is in [0, 1]."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(default=0, ge=0, le=2**32 - 1)  # numpy's generators' range
    questions: int = Field(default=200, ge=1, le=100_000)
    skills: dict[str, float] = Field(default_factory=dict)
    skill_low: float = Field(default=0.35, gt=0, lt=1)
    skill_high: float = Field(default=0.75, gt=0, lt=1)
    difficulty_sd: float = Field(default=1.2, ge=0)
    affinity_sd: float = Field(default=0.8, ge=0)
    sample_correlation: float = Field(default=0.35, ge=0, le=1)
    ranker_accuracy: float = Field(default=0.55, ge=0, le=1)
    critique_ranker_bonus: float = Field(default=0.2, ge=0, le=1)
    fuser_self: float = Field(default=0.5, ge=0, le=1)
    fuser_corrupt: float = Field(default=0.3, ge=0, le=1)
    critique_corrupt_factor: float = Field(default=0.5, ge=0, le=1)
    fuser_rescue: float = Field(default=0.45, ge=0, le=1)
    critique_rescue_bonus: float = Field(default=0.15, ge=0, le=1)
    verifier_tpr: float = Field(default=0.85, ge=0, le=1)
    verifier_fpr: float = Field(default=0.3, ge=0, le=1)
    unit_test_accuracy: float = Field(default=0.65, ge=0, le=1)
    judge_skill: float = Field(default=0.85, ge=0, le=1)

    def skill(self, model: str) -> float:
        """A model's chance on a question of average difficulty: the configured value, else
        one drawn from the seed and the model's name (stable across runs and machines)."""
        if model in self.skills:
            return self.skills[model]
        digest = hashlib.blake2b(f"{self.seed}:{model}".encode(), digest_size=8).digest()
        unit = int.from_bytes(digest, "big") / 2**64
        return self.skill_low + (self.skill_high - self.skill_low) * unit


class QuestionSet:
    """Per-question chances of each model: ``p[m, q]`` for the models in the given order.

    A model's row depends only on the seed and its name (`chance` works for any model,
    listed or not), so the same model has the same chances however the list is ordered.

    Args:
        effects: the settings.
        models: model ids (their order is the row order of ``p``).
    """

    def __init__(self, effects: Effects, models: Sequence[str] = ()) -> None:
        # numpy (the search extra) is imported only when a ground truth is drawn: the
        # simulator itself runs on the base install.
        import numpy as np

        self.effects = effects
        self.models = tuple(models)
        rng = np.random.default_rng(effects.seed)
        self.difficulty: np.ndarray = rng.normal(0.0, effects.difficulty_sd, effects.questions)
        self._rows: dict[str, np.ndarray] = {}
        #: p[m, q]: model m's chance of a right answer on question q.
        self.p: np.ndarray = (
            np.array([self.chance(m) for m in self.models])
            if self.models
            else np.zeros((0, effects.questions))
        )

    def chance(self, model: str) -> np.ndarray:
        """One model's chance of a right answer on each question (shape: questions)."""
        row = self._rows.get(model)
        if row is None:
            import numpy as np

            effects = self.effects
            # The model's own stream: its affinities do not shift when models are added.
            stream = np.random.default_rng([effects.seed, _name_key(model)])
            affinity = stream.normal(0.0, effects.affinity_sd, effects.questions)
            skill = effects.skill(model)
            logits = np.log(skill / (1 - skill)) - self.difficulty + affinity
            row = self._rows[model] = 1.0 / (1.0 + np.exp(-logits))
        return row


class GroundTruth(BaseModel):
    """The simulated provider's ground truth (`SimulationSettings.ground_truth`).

    Attributes:
        effects: the effects its replies follow (see the module docstring).
        questions: question text (or question id) -> the effects' question number it
            plays (0 to ``effects.questions - 1``). A prompt about another question is
            answered as without a ground truth.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    effects: Effects = Field(default_factory=Effects)
    questions: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _numbers_in_range(self) -> GroundTruth:
        count = self.effects.questions
        wrong = [text for text, number in self.questions.items() if not 0 <= number < count]
        if wrong:
            raise ValueError(
                f"ground_truth.questions: {len(wrong)} question(s) have a number outside "
                f"0..{count - 1} (effects.questions is {count}), e.g. {wrong[0][:60]!r}"
            )
        return self


def ranker_accuracy(effects: Effects, critic: bool) -> float:
    """A ranker's chance of putting the right candidates first (after a critic or not)."""
    bonus = effects.critique_ranker_bonus if critic else 0.0
    return min(1.0, effects.ranker_accuracy + bonus)


def fuser_chance(effects: Effects, right: int, shown: int, pf: float, critic: bool) -> float:
    """A fuser's chance of a right answer, shown ``right`` right of ``shown`` candidates,
    with its own chance ``pf`` (after a critic or not)."""
    own = effects.fuser_self * pf
    if right == 0 or shown == 0:
        return own
    share = right / shown
    if share > 0.5:
        factor = effects.critique_corrupt_factor if critic else 1.0
        return 1 - effects.fuser_corrupt * (1 - pf) * factor
    rescue = min(1.0, effects.fuser_rescue + (effects.critique_rescue_bonus if critic else 0.0))
    return max(own, share + (1 - share) * rescue * pf * 2 * share)


def _name_key(model: str) -> int:
    digest = hashlib.blake2b(model.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
