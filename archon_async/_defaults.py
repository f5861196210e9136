"""The built-in default architecture (also shipped as configs/default.json).

It is the 12-call shape the benchmarks use: ten samples from two models, a ranker keeping
the best five, and a fuser. The package carries it so that it runs without the repository.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_ARCHITECTURE", "DEFAULT_JUDGE"]

DEFAULT_ARCHITECTURE: dict[str, Any] = {
    "name": "ten-samples-rank-top5-fuse",
    "layers": [
        [
            {
                "type": "generator",
                "model": "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo",
                "model_type": "Together_API",
                "temperature": 0.7,
                "max_tokens": 2048,
                "samples": 5,
            },
            {
                "type": "generator",
                "model": "Qwen/Qwen2-72B-Instruct",
                "model_type": "Together_API",
                "temperature": 0.7,
                "max_tokens": 2048,
                "samples": 5,
            },
        ],
        [
            {
                "type": "ranker",
                "model": "Qwen/Qwen2-72B-Instruct",
                "model_type": "Together_API",
                "temperature": 0.7,
                "max_tokens": 2048,
                "samples": 1,
                "top_k": 5,
            }
        ],
        [
            {
                "type": "fuser",
                "model": "Qwen/Qwen2-72B-Instruct",
                "model_type": "Together_API",
                "temperature": 0.7,
                "max_tokens": 2048,
                "samples": 1,
            }
        ],
    ],
}

#: The default judge of ``archon-async judge``: one deterministic gpt-4o call, the judge
#: model MT-Bench and Arena-Hard report with (any architecture can judge instead).
DEFAULT_JUDGE: dict[str, Any] = {
    "name": "judge-gpt-4o",
    "layers": [
        [
            {
                "type": "generator",
                "model": "gpt-4o",
                "model_type": "OpenAI_API",
                "temperature": 0.0,
                "max_tokens": 2048,
                "samples": 1,
            }
        ]
    ],
}
