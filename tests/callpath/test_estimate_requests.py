"""``--estimate`` counts requests and samples apart: with ``n`` the default architecture
sends 4 requests a prompt for its 12 samples (calls)."""

from __future__ import annotations

from pathlib import Path

import orjson

from archon_async import Architecture
from archon_async.callpath._estimate import estimate
from tests.conftest import run_cli


def _generator(model_type: str, samples: int) -> dict[str, object]:
    return {"type": "generator", "model": "m", "model_type": model_type, "samples": samples}


def test_requests_follow_what_one_request_of_each_provider_may_draw() -> None:
    spec = {
        "name": "mixed",
        "layers": [
            [_generator("OpenAI_API", 10), _generator("Groq_API", 3), _generator("Google_API", 10)],
            [{"type": "fuser", "model": "m", "model_type": "Together_API", "samples": 2}],
        ],
    }
    figures = estimate(Architecture.from_dict(spec), ["q", "r"]).to_dict()
    # Per prompt: OpenAI takes n up to 128 (1 request), Groq none (3), Gemini 8 at most (2),
    # the fuser's 2 samples in one: 7 requests for 25 samples. At the high end none is
    # known to take n: one request a sample (25), and a refused probe once for each pair
    # that could take it (OpenAI's, Gemini's, Together's), a request and a call each.
    assert figures["requests"] == [14, 2 * 25 + 3]
    assert figures["samples"] == figures["calls"] == [50, 50 + 3]


def test_cli_estimate_of_the_default_architecture_names_requests_and_samples(
    tmp_path: Path,
) -> None:
    prompts = tmp_path / "in.jsonl"
    prompts.write_text("".join(f'{{"id": {i}, "prompt": "q {i}"}}\n' for i in range(3)))
    done = run_cli(
        "batch", "--input", str(prompts), "--output", str(tmp_path / "o.jsonl"), "--estimate"
    )
    assert done.returncode == 0, done.stderr
    figures = orjson.loads(done.stdout)
    # Two generators of 5 samples (one request of n=5 each), a ranker, a fuser: 4 a prompt;
    # at the high end the ranker's 3 parse retries, every sample a request of its own (n
    # not known to be taken) and the refused probe of each generator's model (2).
    assert figures["requests"] == [12, 3 * 15 + 2]
    assert figures["samples"] == [36, 47] and figures["calls"] == [36, 47]
    assert "requests: HTTP requests" in figures["note"]
    assert not (tmp_path / "o.jsonl").exists()
