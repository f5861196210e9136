"""The simulated ground truth: how each component changes the chance of a right answer.

Every effect is a setting, seeded, and the same model is computed two ways: exactly
(`archon_async.search._truth`) and by drawing answers one by one (`_montecarlo`); a test
checks that they agree. The model, per question ``q``:

* Model ``m`` answers right with ``p[m, q] = sigmoid(logit(skill[m]) - d[q] + e[m, q])``:
  ``d[q] ~ Normal(0, difficulty_sd)`` is the question's difficulty, ``e[m, q] ~
  Normal(0, affinity_sd)`` the model's own strengths (so models differ per question).
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

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Effects", "QuestionSet"]


class Effects(BaseModel):
    """The settings of the simulated ground truth (the ``simulation`` object of our section
    of a search file). Every probability is in [0, 1]."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
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

    Args:
        effects: the settings.
        models: model ids (their order is the row order of ``p``).
    """

    def __init__(self, effects: Effects, models: Sequence[str]) -> None:
        self.effects = effects
        self.models = tuple(models)
        rng = np.random.default_rng(effects.seed)
        difficulty = rng.normal(0.0, effects.difficulty_sd, effects.questions)
        affinity = rng.normal(0.0, effects.affinity_sd, (len(self.models), effects.questions))
        skills = np.array([effects.skill(m) for m in self.models])
        logits = np.log(skills / (1 - skills))[:, None] - difficulty[None, :] + affinity
        #: p[m, q]: model m's chance of a right answer on question q.
        self.p: np.ndarray = 1.0 / (1.0 + np.exp(-logits))

    def chance(self, model: str) -> np.ndarray:
        """The row of ``p`` of one model (shape: questions)."""
        row: np.ndarray = self.p[self.models.index(model)]
        return row
