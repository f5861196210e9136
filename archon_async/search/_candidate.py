"""A point of the search space: `Candidate` (one architecture, canonical), the axes of
Archon's raw parameter vectors (`AXES`) and the estimated spend of one query (`Cost`).

Archon's five axes (top-K models, samples, three fusion layers) plus ours (critic and
ranker before each fusion layer, the ranker's top_k, a final verifier or unit-test
stage). Candidates are canonical: fusion layers given as ``(0, 3, 0)`` and ``(3, 0, 0)``
build the same architecture, so they are one point, and a critic or ranker with no fusion
layer to feed does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._words import plural

__all__ = ["AXES", "Candidate", "Cost"]

#: The axes of a raw (Archon-style) parameter vector, in order.
AXES = (
    "model_top_k",
    "sample_top_k",
    "fuser_layer_1",
    "fuser_layer_2",
    "fuser_layer_3",
    "critic",
    "ranker",
    "ranker_top_k",
    "final",
)


@dataclass(frozen=True, slots=True, order=True)
class Candidate:
    """One architecture of the space (canonical: see the module docstring).

    Attributes:
        model_top_k: the best-ranked models that generate.
        sample_top_k: samples each generator draws.
        fusers: fusers of each fusion layer, in order (empty: none).
        critic: a critic runs before each fusion layer.
        ranker_top_k: a ranker keeping this many runs before each fusion layer (0: none).
        final: ``none``, ``verifier`` or ``unit_tests`` before the final fuser.
    """

    model_top_k: int
    sample_top_k: int
    fusers: tuple[int, ...]
    critic: bool
    ranker_top_k: int
    final: str

    def params(self) -> dict[str, Any]:
        """The candidate in Archon's parameter names (plus ours)."""
        layers = [*self.fusers, 0, 0, 0][:3]
        return {
            "model_top_k": self.model_top_k,
            "sample_top_k": self.sample_top_k,
            "fuser_layer_1": layers[0],
            "fuser_layer_2": layers[1],
            "fuser_layer_3": layers[2],
            "critic": self.critic,
            "ranker": self.ranker_top_k > 0,
            "ranker_top_k": self.ranker_top_k,
            "final": self.final,
        }

    def key(self) -> str:
        """A short stable name, e.g. ``m3s2-f4.2-c-r5-verifier``."""
        parts = [f"m{self.model_top_k}s{self.sample_top_k}"]
        if self.fusers:
            parts.append("f" + ".".join(map(str, self.fusers)))
        if self.critic:
            parts.append("c")
        if self.ranker_top_k:
            parts.append(f"r{self.ranker_top_k}")
        if self.final != "none":
            parts.append(self.final)
        return "-".join(parts)

    def describe(self) -> str:
        """The candidate in words, e.g. ``top 3 models x 2 samples; fusion layers of 4, 2
        fusers; critic; ranker keeps 5; verifier``."""
        parts = [f"top {plural(self.model_top_k, 'model')} x {plural(self.sample_top_k, 'sample')}"]
        if len(self.fusers) == 1:
            parts.append(f"a fusion layer of {plural(self.fusers[0], 'fuser')}")
        elif self.fusers:
            parts.append("fusion layers of " + ", ".join(map(str, self.fusers)) + " fusers")
        if self.critic:
            parts.append("critic")
        if self.ranker_top_k:
            parts.append(f"ranker keeps {self.ranker_top_k}")
        if self.final != "none":
            parts.append(self.final.replace("_", " "))
        return "; ".join(parts)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Candidate:
        """The canonical candidate of raw parameters (zeros between fusion layers removed,
        a critic or ranker with no fusion layer dropped)."""
        return cls.from_raw(
            (
                params["model_top_k"],
                params["sample_top_k"],
                params["fuser_layer_1"],
                params["fuser_layer_2"],
                params["fuser_layer_3"],
                params.get("critic", False),
                params.get("ranker", False),
                params.get("ranker_top_k", 0),
                params.get("final", "none"),
            )
        )

    @classmethod
    def from_raw(cls, raw: Sequence[Any]) -> Candidate:
        """`from_params` of a raw vector in `AXES` order (the space's enumeration: no dict
        per point)."""
        fusers = tuple(int(width) for width in raw[2:5] if int(width))
        ranker = bool(raw[6]) and bool(fusers)
        return cls(
            model_top_k=int(raw[0]),
            sample_top_k=int(raw[1]),
            fusers=fusers,
            critic=bool(raw[5]) and bool(fusers),
            ranker_top_k=int(raw[7]) if ranker else 0,
            final=str(raw[8]),
        )


@dataclass(frozen=True, slots=True)
class Cost:
    """Estimated spend of one query: calls, tokens and list-price dollars."""

    calls: int
    tokens: int
    dollars: float
