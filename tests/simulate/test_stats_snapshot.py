"""The simulator's stats: the snapshot it reports holds every tally it keeps."""

from __future__ import annotations

from dataclasses import fields

from archon_async.simulate._state import Counters, SimulationStats


def test_the_snapshot_reports_every_tally_with_plain_dicts() -> None:
    # One field each: a tally added to one and not the other fails here, not in a report.
    assert {f.name for f in fields(Counters)} == set(SimulationStats.model_fields)
    counters = Counters(requests=3, prompt_tokens=40)
    counters.by_model["m"] += 2
    counters.faults["reset"] += 1
    counters.enter()
    stats = counters.snapshot()
    assert (stats.requests, stats.prompt_tokens) == (3, 40)
    assert stats.by_model == {"m": 2} and type(stats.by_model) is dict
    assert stats.faults == {"reset": 1} and stats.by_key == {}
    assert stats.in_flight == stats.in_flight_max == 1
    counters.by_model["m"] += 1  # a frozen copy: later tallies do not change it
    assert stats.by_model == {"m": 2}
