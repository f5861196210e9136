"""Search files the search tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archon_async.search import EXAMPLE_SEARCH_CONFIG, Candidate
from archon_async.search._record import Evaluation

EXAMPLE = EXAMPLE_SEARCH_CONFIG

MODELS = [
    "qwen2-72b-instruct",
    "Llama-3-70b-chat-hf",
    "WizardLM-2-8x22B",
    "Mixtral-8x22B-Instruct-v0.1",
]


def small_space(**extension: Any) -> dict[str, Any]:
    """A small space over four of Archon's published models, on GSM8K."""
    return {
        "model_top_k_choices": [1, 2, 3],
        "sample_top_k_choices": [1, 2],
        "fuser_layer_1_choices": [0, 1, 2],
        "fuser_layer_2_choices": [0, 1],
        "fuser_layer_3_choices": [0],
        "maximum_inference_calls": 12,
        "models_available": MODELS,
        "benchmark": "gsm8k",
        "archon_async": {
            "critic_choices": [False, True],
            "ranker_choices": [False, True],
            "ranker_top_k_choices": [2],
            "final_choices": ["none", "verifier", "unit_tests"],
            **extension,
        },
    }


def scored(candidate: Candidate, n: int, score: float, *, half_width: float) -> Evaluation:
    """An evaluation of ``candidate``, the ``n``-th proposed, that scored ``score`` points on
    200 questions (confidence interval ``score`` +- ``half_width``) at one call a question."""
    return Evaluation(
        key=candidate.key(),
        n=n,
        params=candidate.params(),
        score=score,
        ci=(score - half_width, score + half_width),
        objective=score,
        questions=200,
        calls_per_query=1.0,
        tokens_per_query=1.0,
        dollars_per_query=0.0,
    )


def write(tmp_path: Path, data: dict[str, Any], name: str = "space.json") -> Path:
    import json

    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path
