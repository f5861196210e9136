"""Search files, searches and run-directory readers the search tests share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import orjson

from archon_async import ConfigError
from archon_async.search import EXAMPLE_SEARCH_CONFIG, Candidate, Search, SearchEvent
from archon_async.search._open_space import OPEN_MODELS
from archon_async.search._record import Evaluation

EXAMPLE = EXAMPLE_SEARCH_CONFIG

MODELS = list(OPEN_MODELS[:4])


def small_space(*, finalists: int | None = None, **extension: Any) -> dict[str, Any]:
    """A small space over four of Archon's published models, on GSM8K; ``extension`` is
    our section, ``finalists`` Archon's ``number_of_archon_configs_for_final_ranking``."""
    final = {} if finalists is None else {"number_of_archon_configs_for_final_ranking": finalists}
    return final | {
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


def small_example(tmp_path: Path) -> Path:
    """Archon's example search file (Arena-Hard, judged) as a small random search (16
    evaluations, 20 dev, final-ranking and report questions), written to ``tmp_path``."""
    data = orjson.loads(Path(EXAMPLE).read_bytes())
    data["archon_async"] = {
        "evaluations": 16,
        "dev_questions": 20,
        "held_out_questions": 20,
        "report_questions": 20,
        "parallel": 4,
        "algorithm": "random_search",
    }
    data["number_of_archon_configs_for_final_ranking"] = 4
    return write(tmp_path, data)


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


def served_models(base_url: str, names: tuple[str, ...] = ("alpha", "beta")) -> list[Any]:
    """``models_available`` entries for models of an OpenAI-compatible server at ``base_url``."""
    return [
        {"name": name, "model": name, "model_type": "OpenAI_Compatible", "base_url": base_url}
        for name in names
    ]


def served_space(
    models: list[Any], *, iterations: int, dev: int = 3, **changes: Any
) -> dict[str, Any]:
    """A tiny gsm8k random search over ``models`` (1 or 2 models, up to one fuser, no racing,
    no final ranking, no held-out questions), run through real HTTP. ``changes``: top-level
    keys replaced (e.g. ``maximum_inference_calls``), or ``extension`` merged into our
    section."""
    extension = changes.pop("extension", {})
    return {
        "model_top_k_choices": [1, 2],
        "sample_top_k_choices": [1],
        "fuser_layer_1_choices": [0, 1],
        "maximum_inference_calls": 6,
        "models_available": models,
        "benchmark": "gsm8k",
        "search_algorithm_choice": "random_search",
        "random_search_iterations": iterations,
        "number_of_archon_configs_for_final_ranking": 0,
        **changes,
        "archon_async": {
            "dev_questions": dev,
            "held_out_questions": 0,
            "report_questions": 0,
            "racing": {"enabled": False},
            **extension,
        },
    }


def sampled_search(path: Path, run_dir: Path | None = None, **options: Any) -> Search:
    """A search of the file ``path`` on outcomes drawn from the simulated ground truth
    (oracle and sampled: no calls), into ``run_dir``."""
    return Search(path, simulate=True, oracle=True, sampled=True, run_dir=run_dir, **options)


def simulated_search(
    path: Path, run_dir: Path, *, algorithm: str = "random_search", **options: Any
) -> Search:
    """A search of the file ``path`` on the simulated provider (calls, no payment), by
    random search unless told, into ``run_dir``."""
    return Search(path, simulate=True, run_dir=run_dir, algorithm=algorithm, **options)


def racing_search(
    tmp_path: Path,
    run: str,
    *,
    questions: tuple[int, int, int],
    finalists: int,
    racing: dict[str, Any],
    seed: int,
    evaluations: int = 8,
    name: str = "space.json",
    **options: Any,
) -> Search:
    """A simulated random search of the small space that races: ``evaluations``
    architectures, 4 at once, on ``questions`` (dev, final-ranking, held-out report), its
    ``finalists`` raced as our section's ``racing`` says, seeded by ``seed``; the file
    ``tmp_path / name``, the run directory ``tmp_path / run``; ``options``: more of
    `Search`'s arguments (a budget)."""
    dev, final, report = questions
    data = small_space(
        finalists=finalists,
        evaluations=evaluations,
        parallel=4,
        dev_questions=dev,
        held_out_questions=final,
        report_questions=report,
        racing=racing,
    )
    return Search(
        write(tmp_path, data, name),
        simulate=True,
        run_dir=tmp_path / run,
        algorithm="random_search",
        seed=seed,
        **options,
    )


def oracle_run(path: Path, run_dir: Path, **options: Any) -> dict[str, Any]:
    """The report of a search of the file ``path`` scored by the exact expected score
    (no calls), run to the end into ``run_dir``."""
    return anyio.run(Search(path, simulate=True, oracle=True, run_dir=run_dir, **options).run)


def events_of(search: Search, kind: str | None = None) -> list[SearchEvent]:
    """Run ``search`` to the end and return its events (only those of ``kind`` if given)."""

    async def collect() -> list[SearchEvent]:
        return [e async for e in search.events() if kind is None or e.kind == kind]

    return anyio.run(collect)


def leaderboard(run_dir: Path) -> list[dict[str, Any]]:
    """The lines of ``run_dir``'s ``leaderboard.jsonl``, in file order."""
    lines = (run_dir / "leaderboard.jsonl").read_bytes().splitlines()
    return [orjson.loads(line) for line in lines]


@dataclass(frozen=True)
class Refusal:
    """What a search refused with, the search file and the run directory it was given."""

    error: ConfigError
    path: Path
    run_dir: Path
