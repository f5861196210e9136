"""The report's charts read at every range of scores: ticks and their decimals come from
the data's range, and a flat series (a new user's search where every architecture scored
0 labelled both ends of both score axes "0.0000000") is drawn on a readable range."""

from __future__ import annotations

import itertools
import re
from html.parser import HTMLParser
from pathlib import Path

import anyio

from archon_async.search import Search
from archon_async.search._axis import axis
from archon_async.simulate import SimulatedServer, SimulationSettings
from tests.search._browser import rendered_dom, screenshot
from tests.search._spaces import served_models, served_space, write


class _Charts(HTMLParser):
    """Each chart's tick labels by axis, and its points' heights, from a rendered DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[dict[str, list[str]]] = []
        self.heights: list[list[float]] = []
        self._tick: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "svg":
            self.charts.append({"x-tick": [], "y-tick": []})
            self.heights.append([])
        elif tag == "text" and attr.get("font-size") == "11":
            self._tick = attr.get("class") or "unclassed"
        elif tag == "circle":
            self.heights[-1].append(float(attr["cy"] or "nan"))

    def handle_data(self, data: str) -> None:
        if self._tick is not None:
            self.charts[-1].setdefault(self._tick, []).append(data)
            self._tick = None


def _assert_readable(labels: list[str], *, decimals: int) -> list[float]:
    """Distinct, evenly spaced, at most ``decimals`` decimals; their values."""
    assert len(labels) >= 3 and len(set(labels)) == len(labels), labels
    fraction = rf"(\.\d{{1,{decimals}}})?" if decimals else ""
    assert all(re.fullmatch(rf"\$?-?\d+{fraction}", t) for t in labels), labels
    values = [float(t.lstrip("$")) for t in labels]
    steps = {round(b - a, 9) for a, b in itertools.pairwise(values)}
    assert len(steps) == 1 and steps.pop() > 0, labels
    return values


def test_a_search_where_every_score_is_equal_draws_readable_charts(tmp_path: Path) -> None:
    async def go() -> None:
        # skill 0: every reply wrong, so every architecture scores 0 points.
        async with SimulatedServer(SimulationSettings(skill=0.0)) as server:
            space = served_space(served_models(server.openai_base_url), iterations=3)
            await Search(write(tmp_path, space), run_dir=tmp_path / "run", seed=1).run()

    anyio.run(go)
    page = tmp_path / "run" / "report.html"
    parser = _Charts()
    parser.feed(rendered_dom(page))  # the labels as the browser shows them
    curve, pareto = parser.charts
    for chart, heights in zip(parser.charts, parser.heights, strict=True):
        scores = _assert_readable(chart["y-tick"], decimals=2)
        assert scores[0] <= 0 <= scores[-1] and scores[0] >= 0  # no negative score
        # The flat series is drawn beside the x axis (at 312), not on it.
        assert heights and all(36 < h < 312 for h in heights), heights
    evaluated = _assert_readable(curve["x-tick"], decimals=0)
    assert evaluated[0] <= 1 and evaluated[-1] >= 3
    _assert_readable(pareto["x-tick"], decimals=2)  # calls per query: no model has a price
    screenshot(page, tmp_path / "report.png")  # a rendered page, not a blank one
    assert (tmp_path / "report.png").stat().st_size > 20_000


def test_ticks_and_decimals_follow_the_range() -> None:
    assert axis([62.5, 90.0]).labels() == ["60", "65", "70", "75", "80", "85", "90"]
    assert axis([1.0, 12.0], integer=True).labels() == ["0", "2", "4", "6", "8", "10", "12"]
    # A tiny spread of dollars keeps the digits that tell it apart.
    assert axis([0.00471, 0.00489], unit="$").labels()[:2] == ["$0.00470", "$0.00475"]
    # Flat or nearly flat (a float's last bit): a range around it, 2% of its size wide,
    # within the score's bounds, labelled with as few decimals as its ticks need.
    assert axis([50.0, 50.0000001], top=100.0).labels() == [
        "49.4", "49.6", "49.8", "50.0", "50.2", "50.4", "50.6"
    ]  # fmt: skip
    assert axis([100.0, 100.0], top=100.0).labels() == ["98.0", "98.5", "99.0", "99.5", "100.0"]
    assert axis([0.0, 0.0]).labels() == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
    assert axis([0.0003] * 3, unit="$").labels()[3] == "$0.000300"
    assert axis([1.0], integer=True).labels() == ["0", "1", "2"]
