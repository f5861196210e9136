"""`QuestionSets`: which of a benchmark's questions a search asks, and what for.

Three disjoint sets, drawn in one seeded order: the **dev** questions score architectures
during the search, the **final-ranking** ones choose among the finalists, and the **report**
(held-out) ones give the chosen architecture's unbiased score, never used to choose. The
model ranking (each model alone) runs on the dev questions, or on its own seeded sample
when the file sets Archon's ``dataset_sample_for_power_ranking``.
"""

from __future__ import annotations

import random
from typing import Any, Protocol

from .._exceptions import ConfigError
from ._settings import SearchFile

__all__ = ["QuestionSets"]

#: The benchmark's shares of dev and final-ranking questions when the file sets none (the
#: sets are disjoint: all for the search would leave none to choose or report with).
_DEV_SHARE, _FINAL_SHARE = 0.6, 0.2


class _Items(Protocol):
    def items(self) -> list[Any]: ...


class QuestionSets:
    """The question sets of one search.

    Args:
        settings: the search file's settings (Archon's dataset samples, our counts).
        benchmark: the benchmark (its ``items()`` are read when a set is asked for).
        name: the benchmark's name, for errors.
        seed: the search's seed.
        source: the search file, for errors.
    """

    def __init__(
        self, settings: SearchFile, benchmark: _Items, *, name: str, seed: int, source: str
    ) -> None:
        self._settings = settings
        self._benchmark = benchmark
        self._name = name
        self._seed = seed
        self._source = source

    def splits(self) -> tuple[list[Any], list[Any], list[Any]]:
        """The dev, final-ranking and report questions, each in the benchmark's order."""
        items = self._benchmark.items()
        dev_count, final_count, report_count = self.counts(len(items))
        order = random.Random(self._seed).sample(range(len(items)), len(items))
        cuts = (dev_count, dev_count + final_count, dev_count + final_count + report_count)
        dev = [items[i] for i in sorted(order[: cuts[0]])]
        final = [items[i] for i in sorted(order[cuts[0] : cuts[1]])]
        report = [items[i] for i in sorted(order[cuts[1] : cuts[2]])]
        return dev, final, report

    def counts(self, total: int) -> tuple[int, int, int]:
        """How many dev, final-ranking and report questions of the benchmark's ``total``:
        three disjoint sets. Unset, the dev and final-ranking ones are 60% and 20% of the
        benchmark and the report's as many as the final ranking's, from those left.

        Raises:
            ConfigError: the counts the file sets need more questions than there are.
        """
        settings, ext = self._settings, self._settings.archon_async
        given = settings.model_fields_set
        dev_share = (
            settings.dataset_sample_for_search if "dataset_sample_for_search" in given else None
        )
        final_share = (
            settings.dataset_sample_for_final_ranking
            if "dataset_sample_for_final_ranking" in given
            else None
        )
        dev = ext.dev_questions or _count(dev_share or _DEV_SHARE, total)
        final = (
            ext.held_out_questions
            if ext.held_out_questions is not None
            else _count(final_share or _FINAL_SHARE, total)
        )
        left = max(0, total - dev - final)
        report = ext.report_questions if ext.report_questions is not None else min(final, left)
        if dev + final + report > total:
            raise ConfigError(
                f"the dev ({dev}), final-ranking ({final}) and report ({report}) questions "
                f"are disjoint, but {self._name} has {total}: lower "
                "dataset_sample_for_search / dataset_sample_for_final_ranking (or our "
                "section's dev_questions, held_out_questions, report_questions)",
                source=self._source,
            )
        return dev, final, report

    def check(self, total: int) -> None:
        """The sets fit a benchmark of ``total`` questions (`counts`), and the report's
        held-out set, left to its default, is not emptied by them: a chosen architecture
        with no held-out score, unsaid, is not what a search promises.

        Raises:
            ConfigError: as `counts`, or the dev and final-ranking questions leave none
                for the report (the sizes given, and what to change).
        """
        dev, final, report = self.counts(total)
        if report or not final or self._settings.archon_async.report_questions is not None:
            return
        raise ConfigError(
            f"{self._name} has {total} questions: the dev ({dev}) and final-ranking ({final}) "
            "questions leave none for the report's held-out score of the chosen "
            "architecture; set report_questions to 0 in the archon_async section to search "
            "without it, or lower dataset_sample_for_search / "
            "dataset_sample_for_final_ranking (or dev_questions, held_out_questions), or "
            "give a benchmark with more questions",
            source=self._source,
        )

    def ranking(self, dev: list[Any]) -> list[Any]:
        """The questions each model alone is ranked on: a seeded sample of Archon's
        ``dataset_sample_for_power_ranking`` when the file sets it, else the dev ones."""
        if "dataset_sample_for_power_ranking" not in self._settings.model_fields_set:
            return dev
        items = self._benchmark.items()
        # Not a set of its own (the models see the dev questions too): at most them all.
        count = min(len(items), _count(self._settings.dataset_sample_for_power_ranking, len(items)))
        order = random.Random(f"{self._seed}:power_ranking").sample(range(len(items)), count)
        return [items[i] for i in sorted(order)]

    def numbers(self, items: list[Any], questions: int) -> dict[str, int]:
        """Question text -> the simulated effects' question it plays: the benchmark's
        i-th question plays question ``i % questions`` (the effects' count)."""
        position = {item.id: i for i, item in enumerate(self._benchmark.items())}
        return {
            item.messages[-1]["content"]: position[item.id] % questions
            for item in items
            if item.messages
        }


def _count(share: float, total: int) -> int:
    """Archon's dataset_sample: a fraction of the benchmark, or a number of questions (as
    many as it asks, more than the ``total`` too: `QuestionSets.counts` refuses that,
    naming the count asked rather than one cut to fit)."""
    wanted = round(share * total) if share <= 1 else int(share)
    return max(1, wanted)
