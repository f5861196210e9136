"""The built-in default architecture (also shipped as configs/default.json).

It is the 12-call shape the benchmarks use: ten samples from two models, a ranker keeping
the best five, and a fuser. The package carries it so that it runs without the repository.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_ARCHITECTURE"]

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
