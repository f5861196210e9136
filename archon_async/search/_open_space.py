"""The search space the algorithms are measured on without noise: Archon's axes over
eight open-weight models of its published configs, on GSM8K, under a call budget per
query (bench/search_oracle.py, and the benches built on it), which the tests of the
algorithms use too (tests do not import bench).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._effects import Effects
from ._load import search_file_from_dict
from ._space import Space
from ._truth import Truth

__all__ = ["OPEN_MODELS", "open_space_file", "ranked_truth"]

#: Eight open-weight models of Archon's published single-model configs (served by
#: Together there; `archon_async.search._models.SHIPPED_MODELS`).
OPEN_MODELS = (
    "qwen2-72b-instruct",
    "Llama-3-70b-chat-hf",
    "WizardLM-2-8x22B",
    "Mixtral-8x22B-Instruct-v0.1",
    "dbrx-instruct",
    "Qwen1.5-110B-Chat",
    "Qwen1.5-72B-Chat",
    "deepseek-llm-67b-chat",
)


def open_space_file(calls: int) -> dict[str, Any]:
    """The search file (a dict) of the space under ``calls`` per query: top-K 1-8 of
    `OPEN_MODELS`, 1-5 samples, three fusion layers of 0-5 fusers, a critic, a ranker of
    the top 3 or 5, a final stage (none, a verifier or unit tests)."""
    return {
        "model_top_k_choices": [1, 2, 3, 4, 5, 6, 7, 8],
        "sample_top_k_choices": [1, 2, 3, 4, 5],
        "fuser_layer_1_choices": [0, 1, 2, 3, 4, 5],
        "fuser_layer_2_choices": [0, 1, 2, 3, 4, 5],
        "fuser_layer_3_choices": [0, 1, 2, 3, 4, 5],
        "maximum_inference_calls": calls,
        "models_available": list(OPEN_MODELS),
        "benchmark": "gsm8k",
        "archon_async": {
            "critic_choices": [False, True],
            "ranker_choices": [False, True],
            "ranker_top_k_choices": [3, 5],
            "final_choices": ["none", "verifier", "unit_tests"],
        },
    }


def ranked_truth(calls: int) -> tuple[Space, np.ndarray]:
    """The space under ``calls`` per query with its models ranked by their exact
    single-model scores (as a search's model ranking orders them, so "top K" means the
    best K), and every architecture's exact expected score under the default `Effects`,
    in the space's order."""
    settings, models = search_file_from_dict(open_space_file(calls))
    effects = Effects()
    unranked = Truth(Space(settings, models), effects, judged=False)
    ranked = sorted(models, key=lambda m: -unranked.model_score(m.model))
    space = Space(settings, ranked)
    return space, Truth(space, effects, judged=False).table()
