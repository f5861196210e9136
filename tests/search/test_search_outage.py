"""A provider outage during a search, over real HTTP: the questions it failed are not wrong
answers. With the endpoint down, a search used to score every model and architecture 0.00,
exit 0 and write a best.json chosen among zeros, which every resume then kept. Now it stops
at the first evaluation the outage spoils, records nothing of it, says how to go on, and
the same command finishes the search once the provider answers."""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from archon_async._types import CallRecord
from archon_async.cli import main
from archon_async.search import Search
from archon_async.search._failures import ProviderOutageError, outage_of
from archon_async.simulate import ModelSettings, SimulatedServer, SimulationSettings
from tests.search._spaces import served_models, served_space, write


def _space(base_url: str) -> dict[str, Any]:
    providers = {"OpenAI_Compatible": {"max_retries": 0, "timeout_s": 5}}
    return served_space(
        served_models(base_url), iterations=3, extension={"parallel": 3, "providers": providers}
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def cli_logging() -> Iterator[None]:
    """The command sets the library's log handler to the (captured) stderr: put it back."""
    library = logging.getLogger("archon_async")
    kept = (library.handlers[:], library.level, library.propagate)
    yield
    library.handlers, library.level, library.propagate = kept


def test_an_endpoint_that_is_down_stops_the_search_and_scores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cli_logging: None
) -> None:
    path = write(tmp_path, _space(f"http://127.0.0.1:{_closed_port()}/v1"))
    run_dir = tmp_path / "run"
    assert main(["search", str(path), "--run-dir", str(run_dir), "--quiet"]) == 1
    said = capsys.readouterr().err
    assert "a provider failed" in said and "ProviderConnectionError" in said, said
    assert f"the run directory {run_dir} keeps what was done" in said
    assert "Traceback" not in said
    # No score was made of the outage: no ranking, no evaluation, no best.json.
    assert not (run_dir / "ranking.json").exists()
    assert not (run_dir / "best.json").exists()
    board = run_dir / "leaderboard.jsonl"
    assert not board.exists() or not board.read_bytes().strip()


def test_an_outage_mid_search_keeps_what_was_done_and_the_same_command_finishes(
    tmp_path: Path,
) -> None:
    async def go() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        down = SimulationSettings(models={"beta": ModelSettings(fault_rate=1.0)}, faults=["5xx"])
        async with SimulatedServer(down) as sick:
            path = write(tmp_path, _space(sick.openai_base_url))
            port = sick.port
            with pytest.raises(ProviderOutageError, match="ProviderServerError"):
                await Search(path, run_dir=tmp_path / "run", seed=1).run()
        board = tmp_path / "run" / "leaderboard.jsonl"
        kept = (
            [orjson.loads(line) for line in board.read_bytes().splitlines()]
            if board.exists()
            else []
        )
        async with SimulatedServer(SimulationSettings(port=port)):  # back, where it was
            report = await Search(path, run_dir=tmp_path / "run", seed=1).run()
        return kept, report

    kept, report = anyio.run(go)
    # beta failed from the start: nothing beta took part in was recorded.
    assert all(entry["params"]["model_top_k"] == 1 for entry in kept), kept
    assert report["evaluations"] == 3 and report["stopped_by"] is None


def test_a_refused_request_is_the_architectures_answer_but_a_fault_is_not() -> None:
    def call(error: str | None) -> CallRecord:
        return CallRecord(
            model="m",
            provider="p",
            latency_s=0,
            input_tokens=0,
            output_tokens=0,
            retries=0,
            error=error,
        )

    bad_request = "BadRequestError: OpenAI_Compatible m: HTTP 400: prompt is too long"
    assert outage_of({"error": bad_request, "attempts": 2}, [call(bad_request)]) is None
    down = "ProviderConnectionError: OpenAI_Compatible m: cannot connect"
    assert outage_of({"error": f"layer 0 failed: {down}", "attempts": 2}, []) is not None
    # A layer that went on without a component whose provider was down: a smaller
    # architecture than the one measured.
    assert outage_of({"answer": "42", "attempts": 1}, [call(None), call(down)]) == down
    assert outage_of({"answer": "42", "attempts": 1}, [call(None), call(bad_request)]) is None


def test_a_model_that_does_not_exist_stops_the_search_it_is_no_wrong_answer() -> None:
    """A typo in a model name (404) scored the model and every architecture using it 0, and
    the search ended 'done' (a real search sent 296 such requests)."""
    missing = "BadRequestError: OpenAI_Compatible gpt-4o-mni: HTTP 404: The model does not exist"
    whole = {"error": f"layer 0: every component failed: {missing}", "fatal": True}
    assert outage_of({**whole, "attempts": 1}, []) is not None
    record = CallRecord(
        model="m", provider="p", latency_s=0, input_tokens=0, output_tokens=0, retries=0
    )
    failed = [record, dataclasses.replace(record, error=missing)]
    assert outage_of({"answer": "42", "attempts": 1}, failed) == missing
